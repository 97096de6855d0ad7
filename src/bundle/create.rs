//! `bundle create`: every host's facts, what the preparation would install on each (grouped by system),
//! those packages downloaded on one host per system and indexed here, the images copied, the binary, all
//! staged in a temporary folder beside the output and written as one checked file.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use super::archive;
use super::error::{io, BundleError};
use super::images;
use super::manifest::{Manifest, System, SystemPackages, BINARY, FORMAT};
use super::packages;
use crate::inventory::{Host, Inventory};
use crate::playbook::installs::{installs, Installs};
use crate::playbook::Playbook;
use crate::render::Renderer;
use crate::transport::{SshSession, Transport};

pub struct CreateOptions<'a> {
    pub output: &'a Path,
    /// References as given: the walkthrough's and the user's list.
    pub images: Vec<String>,
    pub forks: usize,
}

/// One system's hosts, what they need, and the host that downloads it.
struct Group<'a> {
    system: System,
    pm: crate::facts::PackageManager,
    collector: &'a str,
    session: &'a SshSession,
    installs: Installs,
}

pub async fn create(
    inventory: &Inventory,
    hosts: &[Host],
    playbook: &Playbook,
    renderer: &Renderer,
    opts: CreateOptions<'_>,
) -> Result<Manifest, BundleError> {
    let started = Instant::now();
    let reached = crate::fanout::for_each_host(hosts, opts.forks, |host| async move {
        let session = SshSession::connect(&host.ssh).await.map_err(|e| e.to_string())?;
        let facts = crate::facts::gather_system(&session).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((session, facts))
    })
    .await;
    let mut sessions = Vec::new();
    for (host, result) in hosts.iter().zip(reached) {
        let (session, facts) = result.map_err(|message| BundleError::Collect { host: host.name.clone(), message })?;
        sessions.push((host, session, facts));
    }
    eprintln!("facts from {} hosts ({:.1} s)", sessions.len(), started.elapsed().as_secs_f64());

    let mut groups: BTreeMap<System, Group> = BTreeMap::new();
    for (host, session, facts) in &sessions {
        let system = System::of(facts);
        if facts.package_manager == crate::facts::PackageManager::None {
            return Err(BundleError::Collect {
                host: host.name.clone(),
                message: format!("{system}: no apt, dnf or yum"),
            });
        }
        let found = installs(playbook, inventory, host, facts, renderer)
            .map_err(|e| BundleError::Collect { host: host.name.clone(), message: e.to_string() })?;
        let group = groups.entry(system.clone()).or_insert_with(|| Group {
            system,
            pm: facts.package_manager,
            collector: &host.name,
            session,
            installs: Installs::default(),
        });
        group.installs.packages.extend(found.packages);
        group.installs.repositories.extend(found.repositories);
    }

    let dir = archive::folder_of(opts.output);
    let staging = tempfile::Builder::new().prefix(".kubeboot-bundle-").tempdir_in(dir).map_err(io(dir))?;
    let staging_path = staging.path().to_path_buf();

    let downloads = futures::future::join_all(groups.values().map(|g| download(g, &staging_path)));
    let image_work = copy_images(inventory, &opts.images, &staging_path);
    let (downloaded, images) = tokio::join!(downloads, image_work);
    let mut systems = Vec::new();
    for result in downloaded {
        systems.push(result?);
    }
    let images = images?;

    let binary = std::env::current_exe().map_err(io("the running kubeboot binary"))?;
    std::fs::copy(&binary, staging_path.join(BINARY)).map_err(io(&binary))?;
    let write_started = Instant::now();
    let manifest = Manifest {
        format: FORMAT,
        kubeboot_version: crate::version::current().to_string(),
        created: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        cluster: inventory.cluster.name.clone(),
        systems,
        images,
        files: archive::file_entries(&staging_path)?,
    };
    archive::write(opts.output, &manifest, &staging_path)?;
    eprintln!(
        "wrote {} ({:.1} MB, {} files) in {:.1} s; {:.1} s in all",
        opts.output.display(),
        manifest.total_size() as f64 / 1e6,
        manifest.files.len(),
        write_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(manifest)
}

async fn download(group: &Group<'_>, staging: &Path) -> Result<SystemPackages, BundleError> {
    let started = Instant::now();
    let packages: Vec<_> = group.installs.packages.iter().cloned().collect();
    let repositories: Vec<_> = group.installs.repositories.iter().cloned().collect();
    let script = packages::download_script(group.pm, &group.system.release, &packages, &repositories);
    let failed = |message: String| BundleError::Collect { host: group.collector.to_string(), message };
    let output = group.session.exec(&script).await.map_err(|e| failed(e.to_string()))?;
    if !output.success() {
        return Err(failed(format!("downloading {} packages: {}", group.system, output.failure_summary())));
    }
    let folder = group.system.folder();
    let dir = staging.join(&folder);
    let count = packages::unpack(&output.stdout, &dir)?;
    let pm = group.pm;
    let index_dir = dir.clone();
    tokio::task::spawn_blocking(move || packages::index(pm, &index_dir)).await.expect("indexing does not panic")?;
    eprintln!(
        "{}: {count} package files for {} packages, downloaded on {} ({:.1} s)",
        group.system,
        packages.len(),
        group.collector,
        started.elapsed().as_secs_f64()
    );
    Ok(SystemPackages {
        system: group.system.clone(),
        collected_on: group.collector.to_string(),
        packages,
        folder,
        package_files: count,
    })
}

async fn copy_images(
    inventory: &Inventory,
    requested: &[String],
    staging: &Path,
) -> Result<Vec<super::manifest::ImageEntry>, BundleError> {
    let mirrors = inventory.docker.registry_mirrors.clone();
    let insecure = inventory.docker.insecure_registries.clone();
    let mut entries = Vec::new();
    for (n, reference) in requested.iter().enumerate() {
        let started = Instant::now();
        let name = images::ImageName::parse(reference)
            .map_err(|message| BundleError::Image { reference: reference.clone(), message })?;
        let sources = images::sources(&name, &mirrors, &insecure);
        let folder = format!("images/{n}");
        let dest = staging.join(&folder);
        std::fs::create_dir_all(staging.join("images")).map_err(io(staging.join("images")))?;
        let reference = reference.clone();
        let entry = tokio::task::spawn_blocking(move || images::copy(&reference, &sources, &dest, &folder))
            .await
            .expect("copying does not panic")?;
        eprintln!("image {} from {} ({:.1} s)", entry.reference, entry.source, started.elapsed().as_secs_f64());
        entries.push(entry);
    }
    Ok(entries)
}
