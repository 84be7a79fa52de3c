// The migrations are embedded at compile time; adding or editing one must rebuild this crate.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=../../deploy/provision-roles.sql");
}
