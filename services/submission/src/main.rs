fn main() -> std::process::ExitCode {
    service_kit::run_cli(submission::SPEC, submission::routes)
}
