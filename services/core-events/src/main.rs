fn main() -> std::process::ExitCode {
    service_kit::run_cli(core_events::SPEC, core_events::routes)
}
