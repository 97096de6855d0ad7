//! `kubeboot ping`: connect to every host in parallel and show its facts.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::{OutputFormat, PingArgs};
use crate::facts::{self, SystemFacts};
use crate::inventory::Host;
use crate::transport::SshSession;
use crate::{fanout, EXIT_FAILED, EXIT_OK};

#[derive(Debug, Serialize)]
struct PingResult {
    address: String,
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    facts: Option<SystemFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Connect + authenticate + facts, in milliseconds.
    elapsed_ms: u64,
}

pub async fn run(args: PingArgs) -> anyhow::Result<u8> {
    let (_inventory, hosts) = super::hosts::prepare(&args.hosts.inventory, &args.hosts.reach)?;
    let bar = ProgressBar::new(hosts.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} ping [{bar:30}] {pos}/{len} {msg}").expect("valid template"),
    );
    let results = fanout::for_each_host(&hosts, args.hosts.reach.forks as usize, |host| {
        let bar = bar.clone();
        async move {
            let result = ping_one(host).await;
            bar.inc(1);
            bar.set_message(host.name.clone());
            (host.name.clone(), result)
        }
    })
    .await;
    bar.finish_and_clear();

    match args.output {
        OutputFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> =
                results.iter().map(|(name, r)| (name.clone(), serde_json::to_value(r).expect("plain data"))).collect();
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "hosts": map }))?);
        }
        OutputFormat::Text => print_table(&results),
    }
    Ok(if results.iter().all(|(_, r)| r.reachable) { EXIT_OK } else { EXIT_FAILED })
}

async fn ping_one(host: &Host) -> PingResult {
    let started = Instant::now();
    let outcome = async {
        let session = SshSession::connect(&host.ssh).await?;
        let facts = facts::gather_system(&session).await;
        session.close().await;
        Ok::<_, anyhow::Error>(facts?)
    }
    .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(facts) => {
            PingResult { address: host.address.clone(), reachable: true, facts: Some(facts), error: None, elapsed_ms }
        }
        Err(e) => PingResult {
            address: host.address.clone(),
            reachable: false,
            facts: None,
            error: Some(format!("{e:#}")),
            elapsed_ms,
        },
    }
}

fn print_table(results: &[(String, PingResult)]) {
    let mut rows = vec![[
        "HOST", "ADDRESS", "STATUS", "OS", "FAMILY", "PKG", "INIT", "ARCH", "KERNEL", "CPUS", "MEMORY", "HOSTNAME",
    ]
    .map(String::from)
    .to_vec()];
    let mut errors = Vec::new();
    for (name, r) in results {
        match &r.facts {
            Some(f) => rows.push(vec![
                name.clone(),
                r.address.clone(),
                "ok".into(),
                format!("{} {}", f.os_id, f.os_version),
                serde_json::to_value(f.family).map(|v| v.as_str().unwrap_or("").to_string()).unwrap_or_default(),
                serde_json::to_value(f.package_manager)
                    .map(|v| v.as_str().unwrap_or("").to_string())
                    .unwrap_or_default(),
                f.init.clone(),
                f.arch.clone(),
                f.kernel.clone(),
                f.cpus.to_string(),
                format!("{}Mi", f.memory_mb),
                f.hostname.clone(),
            ]),
            None => {
                rows.push(vec![name.clone(), r.address.clone(), "UNREACHABLE".into()]);
                errors.push(r.error.clone().unwrap_or_default());
            }
        }
    }
    print!("{}", crate::table::render(&rows));
    for e in errors {
        eprintln!("{e}");
    }
}
