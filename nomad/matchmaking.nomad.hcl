# Production job of the matchmaking service.
#
#   nomad job run -var image=registry.example/scrims/matchmaking:<version> nomad/matchmaking.nomad.hcl
#
# Credentials never appear here: they are rendered from Nomad variables, which only this job's
# tasks can read (see docs/ARCHITECTURE.md, "Deployment"):
#
#   nomad/jobs/matchmaking                      database_password, admin_token, gateway_token,
#                                               discord_bot_token (one caller token per gateway)
#   nomad/jobs/matchmaking/matchmaking/migrate  scrim_owner_password (the migrate task only)
#
# The roles themselves are created by nomad/provision-roles.nomad.hcl.

variable "image" {
  type        = string
  description = "The matchmaking image built from deploy/Dockerfile (SERVICE=matchmaking)."
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "instances" {
  type    = number
  default = 2
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

job "matchmaking" {
  type        = "service"
  datacenters = var.datacenters

  group "matchmaking" {
    count = var.instances

    network {
      port "http" {
        to = 8081
      }
    }

    # One allocation at a time; a new one counts as healthy once its checks (/readyz) have passed
    # for min_healthy_time. A deployment that does not get there is rolled back to the last
    # healthy version.
    update {
      max_parallel      = 1
      health_check      = "checks"
      min_healthy_time  = "15s"
      healthy_deadline  = "5m"
      progress_deadline = "10m"
      auto_revert       = true
    }

    # A failing task (the migrate prestart task included) is restarted in place a few times, then
    # the allocation fails and is rescheduled, with growing delays, for as long as it takes.
    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "fail"
    }

    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "10m"
      unlimited      = true
    }

    # Applies pending migrations as the owner role before the service starts. Every replica and
    # every service runs it; the advisory lock in db::migrate makes the concurrent runs safe and
    # all but the first find nothing to do. Migrations must keep the previous release working
    # (old allocations run against the new schema during the rollout and after an auto-revert).
    task "migrate" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image = var.image
        args  = ["migrate"]
      }

      env {
        MATCHMAKING_DATABASE__HOST = var.database_host
        MATCHMAKING_DATABASE__PORT = var.database_port
        MATCHMAKING_DATABASE__NAME = var.database_name
        MATCHMAKING_DATABASE__USER = "scrim_owner"
        MATCHMAKING_LOG__FORMAT    = "json"
      }

      template {
        destination = "secrets/db.env"
        env         = true
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/matchmaking/matchmaking/migrate" -}}
          MATCHMAKING_DATABASE__PASSWORD={{ .scrim_owner_password }}
          {{- end }}
        EOT
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }

    task "matchmaking" {
      driver = "docker"

      config {
        image = var.image
        args  = ["serve"]
        ports = ["http"]
      }

      env {
        MATCHMAKING_HTTP__HOST     = "0.0.0.0"
        MATCHMAKING_HTTP__PORT     = "8081"
        MATCHMAKING_DATABASE__HOST = var.database_host
        MATCHMAKING_DATABASE__PORT = var.database_port
        MATCHMAKING_DATABASE__NAME = var.database_name
        MATCHMAKING_LOG__FORMAT    = "json"
        # On SIGTERM: /readyz answers 503 for the drain delay, then the listener closes and
        # in-flight requests get the grace period. kill_timeout covers both, with room to spare.
        MATCHMAKING_SHUTDOWN__DRAIN_DELAY_MS  = "5000"
        MATCHMAKING_SHUTDOWN__GRACE_PERIOD_MS = "10000"
      }

      template {
        destination = "secrets/db.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/matchmaking" -}}
          MATCHMAKING_DATABASE__PASSWORD={{ .database_password }}
          MATCHMAKING_ACCESS__ADMIN_TOKEN={{ .admin_token }}
          MATCHMAKING_ACCESS__CALLER_TOKENS__GATEWAY={{ .gateway_token }}
          MATCHMAKING_ACCESS__CALLER_TOKENS__DISCORD_BOT={{ .discord_bot_token }}
          {{- end }}
        EOT
      }

      service {
        name = "matchmaking"
        port = "http"
        tags = ["http", "metrics"]

        # Readiness: the database answers and the service is not draining. Deployments wait on it.
        check {
          name     = "ready"
          type     = "http"
          path     = "/readyz"
          interval = "10s"
          timeout  = "2s"
        }

        # Liveness: never touches the database; a process that stops answering is restarted.
        check {
          name     = "alive"
          type     = "http"
          path     = "/healthz"
          interval = "10s"
          timeout  = "2s"

          check_restart {
            limit = 3
            grace = "30s"
          }
        }
      }

      # Nomad deregisters the service, waits shutdown_delay, then sends SIGTERM and allows
      # kill_timeout (>= drain delay + grace period) before it kills the task.
      shutdown_delay = "5s"
      kill_signal    = "SIGTERM"
      kill_timeout   = "20s"

      logs {
        max_files     = 5
        max_file_size = 20
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
