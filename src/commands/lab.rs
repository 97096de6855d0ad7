//! `kubeboot lab up|down|ssh|status`.

use std::os::unix::process::CommandExt;

use crate::cli::{LabCommand, LabFlavor};
use crate::lab::{Flavor, Lab, LabError};
use crate::{EXIT_FAILED, EXIT_OK};

pub async fn run(cmd: LabCommand) -> anyhow::Result<u8> {
    let lab = Lab::new();
    match cmd {
        LabCommand::Up { count, masters, flavor, inventory } => {
            if masters > count {
                return Err(
                    crate::UsageError(format!("--masters {masters}: more masters than the {count} host(s)")).into()
                );
            }
            let flavor = match flavor {
                LabFlavor::Debian => Flavor::Debian,
                LabFlavor::El => Flavor::El,
            };
            let hosts = tokio::task::block_in_place(|| lab.up(count, masters, flavor))?;
            let text = lab.inventory_text(&hosts);
            write_atomic(&inventory, &text)?;
            eprintln!("kubeboot lab: {} host(s) up; inventory written to {}", hosts.len(), inventory.display());
            print!("{text}");
            Ok(EXIT_OK)
        }
        LabCommand::Down { purge } => {
            tokio::task::block_in_place(|| lab.down(purge))?;
            eprintln!("kubeboot lab: down");
            Ok(EXIT_OK)
        }
        LabCommand::PowerOff { name } => fault(lab.power_off(&name), &name, "powered off"),
        LabCommand::PowerOn { name } => fault(tokio::task::block_in_place(|| lab.power_on(&name)), &name, "up"),
        LabCommand::Cut { name } => fault(lab.cut(&name), &name, "cut off from the other lab hosts"),
        LabCommand::Mend { name } => fault(lab.mend(&name), &name, "reconnected"),
        LabCommand::Offline => {
            lab.offline()?;
            eprintln!("kubeboot lab: offline (no package mirror; lab hosts cannot connect to this machine)");
            Ok(EXIT_OK)
        }
        LabCommand::Online => {
            lab.online()?;
            eprintln!("kubeboot lab: online again");
            Ok(EXIT_OK)
        }
        LabCommand::Drops => {
            let (leaving, to_machine) = crate::lab::drops()?;
            println!("leaving the lab: {leaving}\nto this machine: {to_machine}");
            Ok(EXIT_OK)
        }
        LabCommand::Status => {
            let mut rows = vec![vec!["NAME".to_string(), "ADDRESS".into(), "STATE".into()]];
            for host in lab.hosts()? {
                let state = if lab.is_running(&host) { "running" } else { "stopped" };
                rows.push(vec![host.name.clone(), host.address.clone(), state.into()]);
            }
            print!("{}", crate::table::render(&rows));
            Ok(EXIT_OK)
        }
        LabCommand::Ssh { name, command } => {
            let host = lab.hosts()?.into_iter().find(|h| h.name == name).ok_or(LabError::UnknownHost(name))?;
            let err = std::process::Command::new("ssh")
                .arg("-i")
                .arg(lab.private_key())
                .arg("-o")
                .arg(format!("UserKnownHostsFile={}", lab.known_hosts().display()))
                .args(["-o", "StrictHostKeyChecking=accept-new", "-o", "HashKnownHosts=no", "-o", "LogLevel=ERROR"])
                .arg(format!("root@{}", host.address))
                .args(&command)
                .exec();
            eprintln!("error: cannot run ssh: {err}");
            Ok(EXIT_FAILED)
        }
    }
}

fn fault(done: Result<(), LabError>, name: &str, what: &str) -> anyhow::Result<u8> {
    done?;
    eprintln!("kubeboot lab: {name} {what}");
    Ok(EXIT_OK)
}

fn write_atomic(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
