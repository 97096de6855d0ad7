//! The command line (clap derive). Help texts are the user's manual: keep them exact.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kubeboot",
    version = crate::version::current(),
    about = "Stand up a small Kubernetes-style cluster on plain Linux hosts over SSH",
    long_about = "kubeboot reads an inventory of hosts, reaches them over SSH, prepares them the way the \
                  kubeadm walkthrough does by hand, and builds a cluster on them with its own control plane \
                  (kubeboot server) and node agent (kubeboot agent).\n\nExit codes: 0 success, 1 a host or step failed, 2 bad input \
                  (inventory, flags) - with bad input no host is contacted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the cluster: prepare every host as the kubeadm walkthrough does (packages, hostname, Docker,
    /// daemon.json, /etc/hosts), install kubeboot on it, init the first master, join every other host, wait
    /// until all are Ready and print the nodes. A rerun touches only what is not right yet.
    Up(UpArgs),
    /// Run any playbook, Ansible-style: kubeboot run -i INV PLAYBOOK.yaml
    Run {
        /// The playbook file (YAML list of plays)
        playbook: PathBuf,
        #[command(flatten)]
        args: PlaybookArgs,
    },
    /// Connect to every host and show its facts (OS, package manager, init, arch, memory, CPUs)
    Ping(PingArgs),
    /// Undo init/join: with -i on every inventory host (Node objects, services, /etc/kubeboot,
    /// /var/lib/kubeboot; Docker stays), without -i on this host only
    Reset(ResetArgs),
    /// Print the cluster's admin kubeconfig, read from the first master:
    /// kubectl --kubeconfig <(kubeboot kubeconfig -i INV) get nodes
    Kubeconfig {
        #[command(flatten)]
        hosts: HostArgs,
    },
    /// Bootstrap tokens for `kubeboot join` (on a master, with the admin kubeconfig)
    #[command(subcommand)]
    Token(TokenCommand),
    /// On a master (kubeadm's `certs`): when this master's certificates expire, and renewing them
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Back the cluster up (k3s's etcd-snapshot save, from this machine): its first master whose API
    /// server answers takes a snapshot of every object at one revision, with the cluster's CA and etcd CA,
    /// into its DATA_DIR/snapshots, and it is copied here, checked and written 0600
    Backup(BackupArgs),
    /// Bring a cluster back from a backup: checked first (a damaged or truncated file, a snapshot of
    /// another cluster, or masters whose API servers still answer without --force are refused before any
    /// host is touched), then the hosts are prepared as by `up`, the snapshot restored onto the first
    /// master (its CA too, onto a freshly built one), the rest built or started as by `up`. Nodes keep
    /// their credentials and their agents adopt the pods they run
    Restore(RestoreArgs),
    /// Upgrade the cluster to this kubeboot binary (kubeadm's `upgrade apply` with the drains): the
    /// version skew checked first (no downgrade, one minor version at a time, agents never newer than the
    /// API servers), a snapshot taken, then the masters one at a time and then each node: cordoned,
    /// drained through evictions (PodDisruptionBudgets honoured), the binary swapped (the previous one
    /// kept), its services restarted, Ready on the new version, uncordoned. It stops at the first host
    /// that fails and says why; a rerun continues. `--rollback` puts every host's previous binary back.
    /// With --limit only those hosts move; the others count in the version checks as they are
    Upgrade(UpgradeArgs),
    /// Cordon a node and evict its pods (kubectl drain --ignore-daemonsets), on a master with the admin
    /// kubeconfig; the pods in the way are named when the time limit passes
    Drain {
        node: String,
        /// How long to wait for the pods to leave (a Go duration)
        #[arg(long, default_value = "2m")]
        timeout: String,
        #[command(flatten)]
        kubeconfig: KubeconfigArg,
    },
    /// Make a node schedulable again (kubectl uncordon)
    Uncordon {
        node: String,
        /// Only if `kubeboot drain` cordoned it (a node cordoned by hand stays cordoned)
        #[arg(long)]
        if_drained_by_kubeboot: bool,
        #[command(flatten)]
        kubeconfig: KubeconfigArg,
    },
    /// On a master: snapshots of the cluster's store (what `backup` and `restore` use over SSH)
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Delete Node objects like kubectl: `kubeboot delete nodes NAME…`
    Delete {
        #[arg(value_enum)]
        resource: GetResource,
        #[arg(required = true)]
        names: Vec<String>,
        /// A name that is not there is not an error
        #[arg(long)]
        ignore_not_found: bool,
        /// Also refuse the nodes' client certificates from now on, until they join again (what `reset -i`
        /// does; `kubectl delete node` alone lets a running agent register again)
        #[arg(long)]
        revoke_credentials: bool,
        #[command(flatten)]
        kubeconfig: KubeconfigArg,
    },
    /// Show cluster objects like kubectl: `kubeboot get nodes`
    Get {
        #[arg(value_enum)]
        resource: GetResource,
        /// table: kubectl's columns; json: the NodeList
        #[arg(short = 'o', long, value_enum, default_value_t = GetOutput::Table)]
        output: GetOutput,
        #[command(flatten)]
        kubeconfig: KubeconfigArg,
    },
    /// Air-gapped installs: a bundle with everything hosts without internet need (packages, images,
    /// the kubeboot binary), made on a machine that has access
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// On the first master (kubeadm init): create the cluster CA, certificates, admin.conf and a bootstrap
    /// token, and start the kubeboot-server and kubeboot-agent units
    Init(InitArgs),
    /// On a master (kubeadm's `init phase upload-certs --upload-certs`): seal the cluster's CA, etcd CA and
    /// settings with a certificate key and leave them in the cluster for 2 h, for `kubeboot join
    /// --control-plane --certificate-key KEY` on a further master. Prints the key (a new one unless given)
    UploadCerts(UploadCertsArgs),
    /// On a node: join the cluster (kubeadm join): check the server by token and CA pin, then trade the
    /// token for a node certificate written to <config-dir>/agent.conf, and start the kubeboot-agent unit
    Join(JoinArgs),
    /// The control plane daemon (run by the kubeboot-server unit)
    Server {
        #[command(flatten)]
        dirs: DirArgs,
        /// Listen address (default 0.0.0.0:<port from init>)
        #[arg(long)]
        listen: Option<String>,
    },
    /// The air-gapped bundle's images served read-only over the registry API, as the hosts' Docker registry
    /// mirror (run by the kubeboot-registry unit on masters of an inventory with `airgap:`)
    Registry {
        /// The folder `up` pushed the bundle's images into (images.json and one folder per image)
        #[arg(long, default_value = "/var/lib/kubeboot-airgap/images")]
        images: PathBuf,
        /// Listen address
        #[arg(long, default_value = "0.0.0.0:5000")]
        listen: std::net::SocketAddr,
    },
    /// The node agent daemon (run by the kubeboot-agent unit): registers the Node, heartbeats every 10 s,
    /// runs the pods bound to it on Docker and connects them to the pod network
    Agent {
        /// Its kubeconfig (node certificate)
        #[arg(long, default_value = "/etc/kubeboot/agent.conf")]
        kubeconfig: PathBuf,
        /// The Node's name (default: the hostname)
        #[arg(long)]
        node_name: Option<String>,
        /// The address the Node reports (default: this host's address on the route to the server)
        #[arg(long)]
        address: Option<std::net::IpAddr>,
        /// Label and taint the Node as a master
        #[arg(long)]
        master: bool,
    },
    /// A pod sandbox's process (the pause image's entrypoint): waits for SIGTERM or SIGINT
    #[command(hide = true)]
    Pause,
    /// Local systemd hosts in network namespaces, to try kubeboot or run its tests (needs root)
    #[command(subcommand)]
    Lab(LabCommand),
    /// Print a shell completion script: `source <(kubeboot completion bash)`
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Options every command that reaches hosts shares.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// The inventory file (YAML): hosts, roles, SSH settings
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: PathBuf,
    #[command(flatten)]
    pub reach: ReachArgs,
}

/// Which inventory hosts, how many at once, and which secrets to ask for.
#[derive(Debug, Clone, Args)]
pub struct ReachArgs {
    /// Only these hosts (comma-separated inventory names)
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub limit: Vec<String>,
    /// How many hosts to work on at once
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub forks: u32,
    /// Ask for the SSH password once (kept in memory, used for every host)
    #[arg(long)]
    pub ask_pass: bool,
    /// Ask for the sudo password once (for `become: true` hosts)
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// text: a table; json: one JSON document on stdout
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct PlaybookArgs {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// Show what would change and change nothing
    #[arg(long)]
    pub check: bool,
    /// Show unified diffs of file contents (with or without --check)
    #[arg(long)]
    pub diff: bool,
    /// text: changes and a recap table; json: one JSON document on stdout
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// A folder whose playbooks replace the embedded ones of the same name (prepare.yaml)
    #[arg(long, value_name = "DIR")]
    pub playbooks: Option<PathBuf>,
    /// A folder whose templates replace the embedded ones of the same name (daemon.json, docker-ce.repo, …)
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub playbook: PlaybookArgs,
    /// How long to wait for every node to turn Ready, in seconds
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub wait_timeout: u64,
    /// Only prepare the hosts (the playbook) and install the kubeboot binary on them; leave init and join
    /// out (run `kubeboot init` on the master and the `kubeboot join` it prints on each node by hand)
    #[arg(long)]
    pub prepare_only: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// Where to write the backup (default: kubeboot-backup-CLUSTER-TIME in the current folder)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// Check the versions and print the plan; change nothing
    #[arg(long)]
    pub check: bool,
    /// Put back every host's previous binary (kept by the last upgrade), nodes first, then the masters
    #[arg(long)]
    pub rollback: bool,
    /// How long a node's drain may take before the upgrade stops and names the pods in the way (a Go
    /// duration)
    #[arg(long, default_value = "2m")]
    pub drain_timeout: String,
    /// How long a host may take to be Ready on the new binary, in seconds
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub wait_timeout: u64,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup (from `kubeboot backup`, or a master's DATA_DIR/snapshots)
    pub snapshot: PathBuf,
    /// Restore even where a master's API server still answers (every object is replaced by the backup's;
    /// the running servers are stopped first and started again after)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub playbook: PlaybookArgs,
    /// How long to wait for every node to turn Ready, in seconds
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub wait_timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Take a snapshot now through this master's API server (into DATA_DIR/snapshots) and print where
    Save {
        #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        #[command(flatten)]
        kubeconfig: KubeconfigArg,
    },
    /// Restore a snapshot onto this master: the cluster's CA files it lacks, then the store (a new redb
    /// file, the old kept as state.redb.before-restore; or this master's etcd). Its API server must be
    /// stopped, or --force stops it; it is started again when this master is initialised. On a master
    /// not initialised yet, `kubeboot init` comes next and finds the restored store
    Restore {
        /// The snapshot file
        snapshot: PathBuf,
        /// Stop this master's running API server first
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        dirs: DirArgs,
    },
}

#[derive(Debug, Args)]
pub struct DirArgs {
    /// Configuration and PKI
    #[arg(long, default_value = "/etc/kubeboot")]
    pub config_dir: PathBuf,
    /// State (the store)
    #[arg(long, default_value = "/var/lib/kubeboot")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The API server, HOST:PORT (as printed by `kubeboot init`)
    pub endpoint: String,
    /// The bootstrap token (id.secret); `-` reads it from standard input, which keeps it out of process lists
    #[arg(long)]
    pub token: String,
    /// sha256:<hex> of the cluster CA's public key
    #[arg(long)]
    pub discovery_token_ca_cert_hash: String,
    /// This node's name (default: the hostname)
    #[arg(long)]
    pub node_name: Option<String>,
    /// Configuration folder where agent.conf and the CA go
    #[arg(long, default_value = "/etc/kubeboot")]
    pub config_dir: PathBuf,
    /// Label and taint this node as a master (for further masters; the first runs `init`)
    #[arg(long)]
    pub master: bool,
    /// Join as a further master (kubeadm's --control-plane): this host's etcd member is added to the
    /// cluster's etcd and started (one master at a time), then its API server and agent. The cluster's CA
    /// and etcd CA must be in CONFIG_DIR already, with the cluster's settings in CONFIG_DIR/cluster.yaml
    /// (`kubeboot up` delivers them over SSH)
    #[arg(long)]
    pub control_plane: bool,
    /// With --control-plane: the address this master's API server and etcd member advertise (default: this
    /// host's address on the route to ENDPOINT)
    #[arg(long, requires = "control_plane")]
    pub advertise_address: Option<std::net::IpAddr>,
    /// With --control-plane: fetch the cluster's CA, etcd CA and settings that `kubeboot upload-certs` left
    /// in the cluster (they live 2 h) and open them with this key (kubeadm's --certificate-key)
    #[arg(long, requires = "control_plane")]
    pub certificate_key: Option<String>,
    /// With --control-plane: where the master's state goes (etcd's data among it)
    #[arg(long, default_value = "/var/lib/kubeboot")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub services: ServicesArg,
}

#[derive(Debug, Args)]
pub struct UploadCertsArgs {
    /// The key to seal with (64 hex digits); default: a new random one
    #[arg(long)]
    pub certificate_key: Option<String>,
    /// This master's configuration folder (the files come from its pki/ and server.yaml)
    #[arg(long, default_value = "/etc/kubeboot")]
    pub config_dir: PathBuf,
    #[command(flatten)]
    pub kubeconfig: KubeconfigArg,
}

/// Whether `init`/`join` install and start the systemd units.
#[derive(Debug, Args)]
pub struct ServicesArg {
    /// Write configuration only; do not install or start the kubeboot-server / kubeboot-agent units (start
    /// `kubeboot server` and `kubeboot agent` yourself, e.g. where systemd is not the init)
    #[arg(long)]
    pub no_services: bool,
}

#[derive(Debug, Args)]
pub struct KubeconfigArg {
    /// The admin kubeconfig (default: $KUBECONFIG, else /etc/kubeboot/admin.conf, else ~/.kube/config)
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bootstrap token and print it (or the whole join command)
    Create {
        /// Lifetime as a Go duration (24h, 15m, 1h30m); 0 never expires
        #[arg(long, default_value = "24h")]
        ttl: String,
        /// Print the full `kubeboot join …` command, as kubeadm does
        #[arg(long)]
        print_join_command: bool,
        /// With --print-join-command: the join command of a further master (`--control-plane
        /// --certificate-key KEY`), KEY as `kubeboot upload-certs` printed it
        #[arg(long, requires = "print_join_command")]
        certificate_key: Option<String>,
        #[command(flatten)]
        kubeconfig: KubeconfigArg,
    },
    /// List live tokens (ids and lifetimes; never secrets)
    List {
        #[command(flatten)]
        kubeconfig: KubeconfigArg,
    },
    /// Delete tokens by id (or id.secret)
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        kubeconfig: KubeconfigArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Make a bundle: connect to every inventory host for its OS facts; per OS release, download on one of
    /// its hosts the packages the preparation installs (and every dependency down to a bare system) into a
    /// local repository indexed here (apt-ftparchive, createrepo_c); copy the walkthrough's images and
    /// those of --images with skopeo (Docker Hub images through the inventory's registry_mirrors); add this
    /// kubeboot binary. One file, with a manifest and every file's SHA-256. Hosts are only read
    Create(BundleCreateArgs),
    /// Print the images a bundle holds (and which systems' packages), after checking every file's checksum
    ListImages {
        /// The bundle file
        bundle: PathBuf,
        /// text: a table; json: the bundle's manifest
        #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
}

#[derive(Debug, Args)]
pub struct BundleCreateArgs {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// More images, one reference per line (`#` comments), added to the walkthrough's
    #[arg(long, value_name = "FILE")]
    pub images: Option<PathBuf>,
    /// Where to write the bundle
    #[arg(short = 'o', long = "output", value_name = "BUNDLE")]
    pub output: PathBuf,
    /// A folder whose playbooks replace the embedded ones (what the preparation installs is read from
    /// prepare.yaml)
    #[arg(long, value_name = "DIR")]
    pub playbooks: Option<PathBuf>,
    /// A folder whose templates replace the embedded ones (repository files)
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Print when each of this master's certificates and authorities expires (kubeadm's table; -o json:
    /// kubeadm's CertificateExpirationInfo)
    CheckExpiration {
        /// This master's configuration folder (its pki/ and kubeconfigs)
        #[arg(long, default_value = "/etc/kubeboot")]
        config_dir: PathBuf,
        #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Issue certificates again with the same subject and names and a new key, for the cluster's
    /// certificate lifetime: `all`, or names from check-expiration (admin.conf, apiserver, …). The API
    /// server picks up its new certificate by itself; restart the etcd member for etcd-peer/etcd-server
    Renew {
        #[arg(required = true, value_name = "all|NAME")]
        names: Vec<String>,
        /// This master's configuration folder (its pki/ and kubeconfigs)
        #[arg(long, default_value = "/etc/kubeboot")]
        config_dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetResource {
    #[value(alias = "node", alias = "no")]
    Nodes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetOutput {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Reset every host of this inventory over SSH (without it: this host)
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: Option<PathBuf>,
    #[command(flatten)]
    pub reach: ReachArgs,
    #[command(flatten)]
    pub dirs: DirArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub dirs: DirArgs,
    /// The address nodes reach the API server at
    #[arg(long)]
    pub advertise_address: std::net::IpAddr,
    #[arg(long, default_value_t = 6443)]
    pub port: u16,
    #[arg(long, default_value = "20.96.0.0/12")]
    pub pod_network_cidr: ipnet::IpNet,
    /// The Services' virtual address range (ClusterIPs); the `kubernetes` Service takes its first address,
    /// cluster DNS its tenth. Never routed: a private range that overlaps no network the nodes reach
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: ipnet::Ipv4Net,
    #[arg(long, default_value = "kubeboot")]
    pub cluster_name: String,
    /// How long pods stay on a node that is not Ready before they are evicted and replaced elsewhere
    /// (a Go duration: the tolerationSeconds every pod gets for the not-ready and unreachable taints)
    #[arg(long, default_value = "5m")]
    pub pod_eviction_timeout: String,
    /// How long the certificates the cluster CA signs live (the API server's, admin.conf's, the nodes'),
    /// a Go duration; the CA itself lives ten years. Agents and API servers renew theirs at two thirds
    #[arg(long, default_value = "8760h")]
    pub certificate_validity: String,
    /// How often this master's API server snapshots the store into DATA_DIR/snapshots (a Go duration;
    /// 0 for never). `kubeboot restore` brings a cluster back from one
    #[arg(long, default_value = "12h")]
    pub snapshot_interval: String,
    /// How many scheduled snapshots are kept (the oldest beyond go)
    #[arg(long, default_value_t = 5)]
    pub snapshot_retention: u32,
    /// This master's node name (default: the hostname)
    #[arg(long)]
    pub node_name: Option<String>,
    /// The first bootstrap token's lifetime as a Go duration (24h, 15m, 1h30m); 0 never expires
    #[arg(long, default_value = "24h")]
    pub token_ttl: String,
    /// Keep the cluster's objects in this etcd cluster (client URLs, comma-separated) instead of the
    /// master's own store: what several masters share. With https URLs the client credentials are
    /// CONFIG_DIR/pki/etcd/ca.crt and pki/apiserver-etcd-client.{crt,key}, as kubeadm places them
    #[arg(long, value_delimiter = ',')]
    pub etcd_endpoints: Vec<String>,
    /// Run an etcd member on this master (the kubeboot-etcd unit, kubeadm's stacked etcd: its own etcd CA
    /// and TLS for peers and clients) and keep the cluster's objects there: the first of several masters,
    /// which then `kubeboot join --control-plane`. Needs etcd installed (Debian's etcd-server)
    #[arg(long, conflicts_with = "etcd_endpoints")]
    pub stacked_etcd: bool,
    /// HOST:PORT of a load balancer, VIP or DNS name in front of every master (kubeadm's): kubeconfigs and
    /// cluster-info name it, and every master's serving certificate does too
    #[arg(long)]
    pub control_plane_endpoint: Option<String>,
    #[command(flatten)]
    pub services: ServicesArg,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Boot N local hosts (adds only missing ones to a running lab) and write their inventory
    Up {
        /// How many hosts in all
        #[arg(value_parser = clap::value_parser!(u32).range(1..=50))]
        count: u32,
        /// How many of them are masters: lab-master1..M (one master is named lab-master), then
        /// lab-node1..; several masters share an etcd cluster (an odd number keeps a quorum)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=7))]
        masters: u32,
        /// The distribution family the hosts identify as
        #[arg(long, value_enum, default_value_t = LabFlavor::Debian)]
        flavor: LabFlavor,
        /// Where to write the inventory for the lab
        #[arg(long, default_value = "lab-inventory.yaml")]
        inventory: PathBuf,
    },
    /// Stop every lab host and remove everything the lab made (namespaces, bridge, NAT rules, host files)
    Down {
        /// Also remove the cached base image and the lab's SSH key
        #[arg(long)]
        purge: bool,
    },
    /// Open a shell (or run COMMAND) on a lab host with the lab's key
    Ssh {
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// List lab hosts and whether they run
    Status,
    /// Cut a host's power: its processes SIGKILLed at once and its address silent (tests of failover)
    PowerOff { name: String },
    /// Boot a powered-off host again from its own disk
    PowerOn { name: String },
    /// Partition a host from the other lab hosts (this machine still reaches it)
    Cut { name: String },
    /// Undo `lab cut`
    Mend { name: String },
    /// Take the lab's outside away, as an air-gapped site has none: no package mirror, and no connection
    /// from a lab host to this machine (the lab's registry and EL repositories)
    Offline,
    /// Undo `lab offline`
    Online,
    /// How many packets from lab hosts were dropped: leaving the lab, and to this machine while offline
    Drops,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabFlavor {
    /// Debian 12 (apt)
    Debian,
    /// Identifies as Rocky Linux 9: real dnf and rpm (Debian's builds), yum linked to dnf, a lab base repository
    El,
}
