//! `kubeboot pause`: the process that holds a pod sandbox's namespaces. It does nothing until told to stop
//! (PID 1 of its container, so only signals it handles reach it).

pub async fn wait_for_termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
