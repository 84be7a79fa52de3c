# Creates the platform's database roles (scrim_owner and one login role per service), or resets
# their passwords, by running deploy/provision-roles.sh as a PostgreSQL superuser. Run it once per
# database before the first deployment, and again after changing a password:
#
#   nomad job run -var image=registry.example/scrims/matchmaking:<version> nomad/provision-roles.nomad.hcl
#
# Any service image will do: each carries psql and the script. Every credential is rendered from
# the Nomad variable nomad/jobs/provision-roles, which only this job can read:
#
#   superuser, superuser_password       a PostgreSQL superuser to connect as
#   scrim_owner_password                the migration owner's password
#   matchmaking_password, submission_password, notifications_password, core_events_password
#
# The same passwords go into each service job's own variables (see the service jobs' headers).

variable "image" {
  type        = string
  description = "Any service image built from deploy/Dockerfile."
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "database_host" {
  type        = string
  description = "PostgreSQL's address; by default its Consul service's DNS name."
  default     = "postgres.service.consul"
}

variable "database_port" {
  type    = number
  default = 5432
}

variable "database_name" {
  type    = string
  default = "scrims"
}

job "provision-roles" {
  type        = "batch"
  datacenters = var.datacenters

  group "provision-roles" {
    count = 1

    # The script is idempotent, so retrying is safe; a run that keeps failing (wrong superuser
    # password, database missing) stops after a few attempts for an operator to look at.
    restart {
      attempts = 2
      interval = "5m"
      delay    = "15s"
      mode     = "fail"
    }

    reschedule {
      attempts       = 2
      interval       = "1h"
      delay          = "30s"
      delay_function = "constant"
      unlimited      = false
    }

    task "provision-roles" {
      driver = "docker"

      config {
        image      = var.image
        entrypoint = ["/usr/local/share/scrims/provision-roles.sh"]
      }

      env {
        PGHOST     = var.database_host
        PGPORT     = var.database_port
        PGDATABASE = var.database_name
      }

      # provision-roles.sh hands the passwords to psql through its environment, never its
      # command line.
      template {
        destination = "secrets/db.env"
        env         = true
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/provision-roles" -}}
          PGUSER={{ .superuser }}
          PGPASSWORD={{ .superuser_password }}
          SCRIM_OWNER_PASSWORD={{ .scrim_owner_password }}
          MATCHMAKING_DATABASE__PASSWORD={{ .matchmaking_password }}
          SUBMISSION_DATABASE__PASSWORD={{ .submission_password }}
          NOTIFICATIONS_DATABASE__PASSWORD={{ .notifications_password }}
          CORE_EVENTS_DATABASE__PASSWORD={{ .core_events_password }}
          {{- end }}
        EOT
      }

      logs {
        max_files     = 2
        max_file_size = 5
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
