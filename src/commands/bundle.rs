//! `kubeboot bundle create|list-images`: the air-gapped bundle (bundle/).

use crate::bundle::{archive, create, images, Manifest};
use crate::cli::{BundleCommand, BundleCreateArgs, OutputFormat};
use crate::playbook::{self, loader};
use crate::render::Renderer;
use crate::{UsageError, EXIT_OK};

pub async fn run(command: BundleCommand) -> anyhow::Result<u8> {
    match command {
        BundleCommand::Create(args) => create_bundle(args).await,
        BundleCommand::ListImages { bundle, output } => {
            let manifest = archive::read(&bundle, None)?;
            match output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&manifest)?),
                OutputFormat::Text => print!("{}", describe(&manifest)),
            }
            eprintln!("{}: every file's checksum matches its manifest", bundle.display());
            Ok(EXIT_OK)
        }
    }
}

async fn create_bundle(args: BundleCreateArgs) -> anyhow::Result<u8> {
    // Everything that can be wrong with the input is found before any host is contacted (exit 2).
    let playbook = loader::named("prepare.yaml", args.playbooks.as_deref())?;
    let (inventory, hosts) = super::hosts::prepare(&args.hosts.inventory, &args.hosts.reach)?;
    let renderer = Renderer::new(args.templates.as_deref())?;
    playbook::check(&playbook, &inventory, &hosts, &renderer)?;
    let mut wanted: Vec<String> = images::WALKTHROUGH_IMAGES.iter().map(|s| s.to_string()).collect();
    if let Some(path) = &args.images {
        let text = std::fs::read_to_string(path).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        for reference in images::parse_list(path, &text)? {
            if !wanted.contains(&reference) {
                wanted.push(reference);
            }
        }
    }
    let folder = archive::folder_of(&args.output);
    if !folder.is_dir() {
        return Err(UsageError(format!("{}: no such folder for the bundle", folder.display())).into());
    }
    let opts = create::CreateOptions { output: &args.output, images: wanted, forks: args.hosts.reach.forks as usize };
    let manifest = create::create(&inventory, &hosts, &playbook, &renderer, opts).await?;
    print!("{}", describe(&manifest));
    println!("Bundle written to {}.", args.output.display());
    Ok(EXIT_OK)
}

/// The bundle's images and package repositories, as tables.
fn describe(manifest: &Manifest) -> String {
    let mut rows = vec![vec!["IMAGE".into(), "DIGEST".into(), "SIZE".into(), "FROM".into()]];
    for image in &manifest.images {
        rows.push(vec![image.reference.clone(), image.digest.clone(), megabytes(image.size), image.source.clone()]);
    }
    let mut out = crate::table::render(&rows);
    out.push('\n');
    let mut rows = vec![vec!["PACKAGES FOR".into(), "ASKED".into(), "FILES".into(), "DOWNLOADED ON".into()]];
    for system in &manifest.systems {
        rows.push(vec![
            system.system.to_string(),
            system.packages.len().to_string(),
            system.package_files.to_string(),
            system.collected_on.clone(),
        ]);
    }
    out.push_str(&crate::table::render(&rows));
    out.push_str(&format!(
        "\nkubeboot {} for cluster {}, made {}: {} files, {}\n",
        manifest.kubeboot_version,
        manifest.cluster,
        manifest.created,
        manifest.files.len(),
        megabytes(manifest.total_size())
    ));
    out
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
