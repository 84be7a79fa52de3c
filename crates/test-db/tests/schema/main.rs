//! Tests of the schema itself: migrations, provisioning, and the privilege matrix.

mod migrations;
mod privileges;
