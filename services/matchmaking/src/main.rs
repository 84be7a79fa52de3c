fn main() -> std::process::ExitCode {
    service_kit::run_cli(matchmaking::SPEC, matchmaking::routes)
}
