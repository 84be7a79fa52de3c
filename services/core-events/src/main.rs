fn main() -> std::process::ExitCode {
    service_kit::run_cli_with::<_, core_events::Commands>(core_events::SPEC, core_events::routes)
}
