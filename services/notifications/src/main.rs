fn main() -> std::process::ExitCode {
    service_kit::run_cli(notifications::SPEC, notifications::routes)
}
