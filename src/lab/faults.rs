//! Faults the lab can inject into its hosts, for the tests of a control plane that must survive them:
//! a power cut (the host's init and nspawn SIGKILLed at once, its link taken down so that its address
//! goes silent instead of refusing), a power-on of the same disk, and a network partition from the
//! other lab hosts (the machine itself still reaches it, so a test can see what it answers).

use super::error::LabError;
use super::sh::{run, succeeds};
use super::state::LabHost;
use super::{machine, Lab, BOOT_TIMEOUT};

/// Marks the lab's partition rules inside a host's namespace.
const CUT_MARK: &str = "kubeboot-lab-cut";

impl Lab {
    fn host(&self, name: &str) -> Result<LabHost, LabError> {
        self.hosts()?.into_iter().find(|h| h.name == name).ok_or_else(|| LabError::UnknownHost(name.into()))
    }

    /// Cut the power: no shutdown, every process of the host gone at once, its address silent.
    pub fn power_off(&self, name: &str) -> Result<(), LabError> {
        let host = self.host(name)?;
        machine::kill_now(self.pid(&host), self.init_pid(&host), &host);
        run("ip", &["link", "set", &host.veth_host(), "down"])?;
        Ok(())
    }

    /// Boot a powered-off host from the disk it had.
    pub fn power_on(&self, name: &str) -> Result<(), LabError> {
        let host = self.host(name)?;
        if self.is_running(&host) {
            return Ok(());
        }
        run("ip", &["link", "set", &host.veth_host(), "up"])?;
        let pid = machine::start(&host, &self.root(&host), &self.log_path(&host))?;
        std::fs::write(self.pid_path(&host), pid.to_string()).map_err(super::io("writing the pid file"))?;
        if let Some(init) = machine::find_init(pid, &host) {
            std::fs::write(self.init_pid_path(&host), init.to_string())
                .map_err(super::io("writing the init pid file"))?;
        }
        machine::wait_for_ssh(&host, pid, BOOT_TIMEOUT, &self.log_path(&host))
    }

    /// Partition the host from every other lab host (both ways); the machine still reaches it.
    pub fn cut(&self, name: &str) -> Result<(), LabError> {
        let host = self.host(name)?;
        self.mend(name)?;
        for other in self.hosts()?.iter().filter(|h| h.name != host.name) {
            for (chain, side) in [("INPUT", "-s"), ("OUTPUT", "-d")] {
                iptables(
                    &host,
                    &["-I", chain, side, &other.address, "-m", "comment", "--comment", CUT_MARK, "-j", "DROP"],
                )?;
            }
        }
        Ok(())
    }

    /// Undo `cut`.
    pub fn mend(&self, name: &str) -> Result<(), LabError> {
        let host = self.host(name)?;
        let rules = iptables(&host, &["-S"])?;
        for rule in rules.lines().filter(|l| l.contains(CUT_MARK)) {
            let Some(spec) = rule.strip_prefix("-A ") else { continue };
            let mut args = vec!["-D"];
            args.extend(spec.split_whitespace().map(|w| w.trim_matches('"')));
            iptables(&host, &args)?;
        }
        Ok(())
    }
}

fn iptables(host: &LabHost, args: &[&str]) -> Result<String, LabError> {
    let ns = host.netns();
    if !succeeds("ip", &["netns", "exec", &ns, "true"]) {
        return Err(LabError::UnknownHost(host.name.clone()));
    }
    let mut all = vec!["netns", "exec", &ns, "iptables", "-w"];
    all.extend_from_slice(args);
    run("ip", &all)
}
