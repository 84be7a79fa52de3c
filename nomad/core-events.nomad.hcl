# Production job of the core-events service.
#
#   nomad job run -var image=registry.example/scrims/core-events:<version> nomad/core-events.nomad.hcl
#
# Credentials never appear here: they are rendered from Nomad variables, which only this job's
# tasks can read (see docs/ARCHITECTURE.md, "Deployment"):
#
#   nomad/jobs/core-events                      database_password, admin_token, gateway_token,
#                                               discord_bot_token (the callers' tokens)
#   nomad/jobs/core-events/core-events/migrate  scrim_owner_password (the migrate task only)
#
# The roles themselves are created by nomad/provision-roles.nomad.hcl.

variable "image" {
  type        = string
  description = "The core-events image built from deploy/Dockerfile (SERVICE=core-events)."
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

job "core-events" {
  type        = "service"
  datacenters = var.datacenters

  group "core-events" {
    count = var.instances

    network {
      port "http" {
        to = 8084
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
        CORE_EVENTS_DATABASE__HOST = var.database_host
        CORE_EVENTS_DATABASE__PORT = var.database_port
        CORE_EVENTS_DATABASE__NAME = var.database_name
        CORE_EVENTS_DATABASE__USER = "scrim_owner"
        CORE_EVENTS_LOG__FORMAT    = "json"
      }

      template {
        destination = "secrets/db.env"
        env         = true
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/core-events/core-events/migrate" -}}
          CORE_EVENTS_DATABASE__PASSWORD={{ .scrim_owner_password }}
          {{- end }}
        EOT
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }

    task "core-events" {
      driver = "docker"

      config {
        image = var.image
        args  = ["serve"]
        ports = ["http"]
      }

      env {
        CORE_EVENTS_HTTP__HOST     = "0.0.0.0"
        CORE_EVENTS_HTTP__PORT     = "8084"
        CORE_EVENTS_DATABASE__HOST = var.database_host
        CORE_EVENTS_DATABASE__PORT = var.database_port
        CORE_EVENTS_DATABASE__NAME = var.database_name
        CORE_EVENTS_LOG__FORMAT    = "json"
        # On SIGTERM: /readyz answers 503 for the drain delay, then the listener closes and
        # in-flight requests get the grace period. kill_timeout covers both, with room to spare.
        CORE_EVENTS_SHUTDOWN__DRAIN_DELAY_MS  = "5000"
        CORE_EVENTS_SHUTDOWN__GRACE_PERIOD_MS = "10000"
      }

      template {
        destination = "secrets/db.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/core-events" -}}
          CORE_EVENTS_DATABASE__PASSWORD={{ .database_password }}
          CORE_EVENTS_ACCESS__ADMIN_TOKEN={{ .admin_token }}
          CORE_EVENTS_ACCESS__CALLER_TOKENS__GATEWAY={{ .gateway_token }}
          CORE_EVENTS_ACCESS__CALLER_TOKENS__DISCORD_BOT={{ .discord_bot_token }}
          {{- end }}
        EOT
      }

      service {
        name = "core-events"
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
