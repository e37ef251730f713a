//! `polls runserver` serves the tutorial's app; `polls --help` lists every command.

fn main() -> std::process::ExitCode {
    polls::app().main()
}
