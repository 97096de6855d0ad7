use std::process::ExitCode;

fn main() -> ExitCode {
    match kubeboot::run(std::env::args_os()) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(kubeboot::exit_code_for(&err))
        }
    }
}
