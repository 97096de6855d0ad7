//! `kubeboot upgrade -i INV [--check] [--rollback]`: a refused skew is bad input (exit 2, nothing
//! changed); a host that fails stops the run (exit 1) with what to do.

use std::time::Duration;

use crate::cli::UpgradeArgs;
use crate::cluster::upgrade::{upgrade, UpgradeError, UpgradeOptions};
use crate::{UsageError, EXIT_FAILED, EXIT_OK};

pub async fn run(args: UpgradeArgs) -> anyhow::Result<u8> {
    let drain_timeout = match crate::bootstrap::ttl::parse_ttl(&args.drain_timeout) {
        Ok(Some(seconds)) => Duration::from_secs(seconds),
        _ => {
            let message = format!("--drain-timeout: {:?} is not a duration (e.g. 2m, 90s)", args.drain_timeout);
            return Err(UsageError(message).into());
        }
    };
    let (inventory, chosen) = super::hosts::prepare(&args.hosts.inventory, &args.hosts.reach)?;
    let limited = !args.hosts.reach.limit.is_empty();
    let opts = UpgradeOptions {
        only: limited.then(|| chosen.iter().map(|h| h.name.clone()).collect()),
        check: args.check,
        rollback: args.rollback,
        drain_timeout,
        wait_timeout: Duration::from_secs(args.wait_timeout),
        forks: args.hosts.reach.forks as usize,
    };
    match upgrade(&inventory, opts).await {
        Ok(lines) => {
            let what = match (args.check, args.rollback) {
                (true, _) => "would be",
                (false, false) => "upgraded",
                (false, true) => "rolled back",
            };
            println!("kubeboot {} — cluster {} {what}:", crate::version::current(), inventory.cluster.name);
            for line in lines {
                println!("  {line}");
            }
            Ok(EXIT_OK)
        }
        Err(e @ UpgradeError::Refused(_)) => Err(UsageError(e.to_string()).into()),
        Err(e @ UpgradeError::Stopped { .. }) => {
            eprintln!("kubeboot upgrade: {e}");
            Ok(EXIT_FAILED)
        }
        Err(e) => Err(e.into()),
    }
}
