//! `demo runserver` serves the article's examples; `demo --help` lists every command.

fn main() -> std::process::ExitCode {
    demo::app().main()
}
