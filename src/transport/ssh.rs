//! One russh connection per host, many channels on it. `nodelay` is on: without it every round trip costs
//! about 40 ms more (Nagle + delayed ACK).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{load_secret_key, Error as KeyError, PrivateKey, PrivateKeyWithHashAlg};
use russh::ChannelMsg;
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

use super::become_sudo::{self, SudoState};
use super::host_keys::{HostKeyChecker, Rejection};
use super::{install_command, secrets, shell_quote, staging_path, ExecOutput, SshTarget, Transport, TransportError};

/// Backoff between attempts while a host refuses connections (it may be booting). Never used for
/// authentication or host-key failures, which a retry cannot fix.
const CONNECT_BACKOFF: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// Exit status `read` uses to say "no such file" without a second round trip.
const MISSING_FILE_STATUS: u32 = 44;

pub struct SshSession {
    target: SshTarget,
    handle: Handle<HostKeyChecker>,
    sftp: OnceCell<SftpSession>,
    /// Keeps the jump host's connection open for as long as this one lives.
    _bastion: Option<Box<SshSession>>,
}

/// `recorded`: the key types known_hosts has for the host. As OpenSSH does, they are asked for first, so a
/// host with several keys presents the one we know (any other type from a known host is refused).
fn client_config(recorded: &[String]) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::DEFAULT.clone();
    let mut keys = preferred.key.to_vec();
    keys.sort_by_key(|algorithm| !recorded.iter().any(|r| *r == key_type(algorithm)));
    preferred.key = keys.into();
    Arc::new(client::Config {
        nodelay: true,
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(5)),
        keepalive_max: 3,
        preferred,
        ..Default::default()
    })
}

/// The key type known_hosts records for keys of this signature algorithm.
fn key_type(algorithm: &russh::keys::Algorithm) -> String {
    match algorithm {
        russh::keys::Algorithm::Rsa { .. } => "ssh-rsa".into(),
        other => other.as_str().to_string(),
    }
}

impl SshSession {
    /// Connect and authenticate, retrying with backoff only while the host refuses or is unreachable.
    pub fn connect(
        target: &SshTarget,
    ) -> Pin<Box<dyn Future<Output = Result<SshSession, TransportError>> + Send + '_>> {
        // Boxed because a bastion connects recursively.
        Box::pin(async move {
            let bastion = match &target.bastion {
                Some(b) => Some(Box::new(SshSession::connect(b).await?)),
                None => None,
            };
            let mut attempt = 0;
            loop {
                match Self::connect_once(target, bastion.as_deref()).await {
                    Err(TransportError::Connect { source, .. })
                        if is_transient(&source) && attempt < CONNECT_BACKOFF.len() =>
                    {
                        tokio::time::sleep(CONNECT_BACKOFF[attempt]).await;
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                    Ok(handle) => {
                        let mut session =
                            SshSession { target: target.clone(), handle, sftp: OnceCell::new(), _bastion: bastion };
                        session.authenticate().await?;
                        return Ok(session);
                    }
                }
            }
        })
    }

    async fn connect_once(
        target: &SshTarget,
        bastion: Option<&SshSession>,
    ) -> Result<Handle<HostKeyChecker>, TransportError> {
        let rejection = Arc::new(Mutex::new(None));
        let checker = HostKeyChecker {
            address: target.address.clone(),
            port: target.port,
            policy: target.host_key_policy,
            file: target.known_hosts_file.clone(),
            rejection: rejection.clone(),
        };
        let recorded: Vec<String> = checker.recorded().into_iter().map(|(_, key_type)| key_type).collect();
        let address = format!("{}:{}", target.address, target.port);
        let connect_err =
            |source| TransportError::Connect { host: target.name.clone(), address: address.clone(), source };
        let handshake = async {
            match bastion {
                Some(jump) => {
                    let channel = jump
                        .handle
                        .channel_open_direct_tcpip(target.address.clone(), target.port as u32, "127.0.0.1", 0)
                        .await
                        .map_err(|e| {
                            connect_err(std::io::Error::other(format!("through {}: {e}", jump.target.name)))
                        })?;
                    Ok(client::connect_stream(client_config(&recorded), channel.into_stream(), checker).await)
                }
                None => {
                    let tcp = tokio::net::TcpStream::connect((target.address.as_str(), target.port))
                        .await
                        .map_err(connect_err)?;
                    tcp.set_nodelay(true).map_err(connect_err)?;
                    Ok(client::connect_stream(client_config(&recorded), tcp, checker).await)
                }
            }
        };
        let result = tokio::time::timeout(target.connect_timeout, handshake).await.map_err(|_| {
            TransportError::ConnectTimeout {
                host: target.name.clone(),
                address: address.clone(),
                seconds: target.connect_timeout.as_secs(),
            }
        })??;
        result.map_err(|e| {
            let file = target.known_hosts_file.display().to_string();
            match rejection.lock().expect("rejection lock").take() {
                Some(Rejection::Changed { line }) => TransportError::HostKeyChanged {
                    host: target.name.clone(),
                    address: address.clone(),
                    file,
                    line,
                    known_hosts_name: HostKeyChecker::known_hosts_name(&target.address, target.port),
                },
                Some(Rejection::Unknown) => {
                    TransportError::HostKeyUnknown { host: target.name.clone(), address: address.clone(), file }
                }
                Some(Rejection::CannotRecord(message)) => TransportError::KnownHostsFile {
                    host: target.name.clone(),
                    file: target.known_hosts_file.clone(),
                    message,
                },
                None => match e {
                    russh::Error::IO(io) => connect_err(io),
                    other => TransportError::Protocol { host: target.name.clone(), message: other.to_string() },
                },
            }
        })
    }

    /// Key file, then ssh-agent, then password: the order OpenSSH tries them in.
    async fn authenticate(&mut self) -> Result<(), TransportError> {
        let t = self.target.clone();
        let mut tried = Vec::new();
        if let Some(key) = self.load_private_key()? {
            tried.push("key file");
            let hash = self.handle.best_supported_rsa_hash().await.map_err(|e| self.protocol(e))?.flatten();
            let result = self
                .handle
                .authenticate_publickey(&t.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                .await
                .map_err(|e| self.protocol(e))?;
            if result.success() {
                return Ok(());
            }
        }
        if std::env::var_os("SSH_AUTH_SOCK").is_some() {
            if let Ok(mut agent) = AgentClient::connect_env().await {
                tried.push("ssh-agent");
                let identities = agent.request_identities().await.unwrap_or_default();
                for identity in identities {
                    let key = identity.public_key().into_owned();
                    let hash = self.handle.best_supported_rsa_hash().await.map_err(|e| self.protocol(e))?.flatten();
                    if let Ok(result) = self.handle.authenticate_publickey_with(&t.user, key, hash, &mut agent).await {
                        if result.success() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        if let Some(password) = secrets::lookup(&t.password_env) {
            tried.push("password");
            let result = self.handle.authenticate_password(&t.user, password).await.map_err(|e| self.protocol(e))?;
            if result.success() {
                return Ok(());
            }
        }
        Err(TransportError::AuthFailed {
            host: t.name.clone(),
            user: t.user.clone(),
            tried: if tried.is_empty() { "nothing: no key file, agent or password".into() } else { tried.join(", ") },
            password_env: t.password_env.clone(),
        })
    }

    fn load_private_key(&self) -> Result<Option<PrivateKey>, TransportError> {
        let t = &self.target;
        let Some(path) = &t.private_key else {
            return Ok(None);
        };
        if !path.is_file() {
            if t.private_key_explicit {
                return Err(TransportError::PrivateKey {
                    host: t.name.clone(),
                    path: path.clone(),
                    message: "no such file".into(),
                });
            }
            return Ok(None);
        }
        let key_err =
            |message: String| TransportError::PrivateKey { host: t.name.clone(), path: path.clone(), message };
        match load_secret_key(path, None) {
            Ok(key) => Ok(Some(key)),
            Err(KeyError::KeyIsEncrypted) => {
                let question = format!("Passphrase for {}: ", path.display());
                let passphrase = secrets::lookup_or_prompt(&t.passphrase_env, &question).ok_or_else(|| {
                    key_err(format!("the key is encrypted: set ${} or run on a terminal to be asked", t.passphrase_env))
                })?;
                load_secret_key(path, Some(&passphrase))
                    .map(Some)
                    .map_err(|_| key_err(format!("wrong passphrase (from ${} or the prompt)", t.passphrase_env)))
            }
            Err(e) => Err(key_err(e.to_string())),
        }
    }

    fn protocol(&self, e: impl std::fmt::Display) -> TransportError {
        TransportError::Protocol { host: self.target.name.clone(), message: e.to_string() }
    }

    /// The connection is gone (host down, network cut): later commands cannot succeed.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    async fn sftp(&self) -> Result<&SftpSession, TransportError> {
        self.sftp
            .get_or_try_init(|| async {
                let channel = self.handle.channel_open_session().await.map_err(|e| self.protocol(e))?;
                channel.request_subsystem(true, "sftp").await.map_err(|e| self.protocol(e))?;
                SftpSession::new(channel.into_stream()).await.map_err(|e| TransportError::Sftp {
                    host: self.target.name.clone(),
                    path: String::new(),
                    message: e.to_string(),
                })
            })
            .await
    }

    pub async fn close(self) {
        let _ = self.handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionReset | ConnectionAborted | HostUnreachable | NetworkUnreachable | TimedOut
    )
}

impl Transport for SshSession {
    fn host_name(&self) -> &str {
        &self.target.name
    }

    async fn exec_with_stdin(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        let mut channel = self.handle.channel_open_session().await.map_err(|e| self.protocol(e))?;
        let as_root = self.target.become_root;
        let line = if as_root { become_sudo::wrap(command) } else { command.to_string() };
        channel.exec(true, line).await.map_err(|e| self.protocol(e))?;

        let mut out = ExecOutput::default();
        let mut sudo_pending = as_root;
        let mut sudo_stderr = Vec::new();
        let mut password_sent = false;
        if !sudo_pending {
            send_stdin(&channel, stdin).await.map_err(|e| self.protocol(e))?;
        }
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } if !sudo_pending => out.stderr.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => {
                    sudo_stderr.extend_from_slice(&data);
                    match become_sudo::scan(&sudo_stderr) {
                        SudoState::Waiting => {}
                        SudoState::Started(rest) => {
                            sudo_pending = false;
                            out.stderr = rest;
                            send_stdin(&channel, stdin).await.map_err(|e| self.protocol(e))?;
                        }
                        SudoState::Prompted(1) if !password_sent => {
                            let Some(password) = secrets::lookup(&self.target.become_password_env) else {
                                let _ = channel.close().await;
                                return Err(self.become_err(format!(
                                    "sudo asks for a password: set ${} or pass --ask-become-pass",
                                    self.target.become_password_env
                                )));
                            };
                            channel.data(format!("{password}\n").as_bytes()).await.map_err(|e| self.protocol(e))?;
                            password_sent = true;
                        }
                        SudoState::Prompted(_) => {
                            let _ = channel.close().await;
                            return Err(self.become_err(format!(
                                "sudo refused the become password (from ${})",
                                self.target.become_password_env
                            )));
                        }
                    }
                }
                ChannelMsg::ExitStatus { exit_status } => out.exit_status = exit_status,
                ChannelMsg::ExitSignal { signal_name, .. } => out.exit_status = 128 + signal_number(&signal_name),
                _ => {}
            }
        }
        if sudo_pending {
            let said = String::from_utf8_lossy(&sudo_stderr).replace(become_sudo::PROMPT, "");
            return Err(self.become_err(format!("sudo did not run the command: {}", said.trim())));
        }
        Ok(out)
    }

    async fn upload(&self, data: &[u8], path: &str, mode: u32) -> Result<(), TransportError> {
        let sftp_err =
            |message: String| TransportError::Sftp { host: self.target.name.clone(), path: path.to_string(), message };
        // As root the temp file goes beside the target (rename is atomic there); through sudo the login user
        // can only write to /tmp, and the install step copies it beside the target first.
        let staged = staging_path(path, self.target.become_root);
        let sftp = self.sftp().await?;
        // Created 0600 so contents are never readable by others while staged (e.g. in /tmp).
        let mut attributes = FileAttributes::empty();
        attributes.permissions = Some(0o600);
        let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE | OpenFlags::EXCLUDE;
        let mut file = sftp
            .open_with_flags_and_attributes(staged.clone(), flags, attributes)
            .await
            .map_err(|e| sftp_err(format!("creating {staged}: {e}")))?;
        file.write_all(data).await.map_err(|e| sftp_err(format!("writing {staged}: {e}")))?;
        file.sync_all().await.map_err(|e| sftp_err(format!("fsync {staged}: {e}")))?;
        file.shutdown().await.map_err(|e| sftp_err(format!("closing {staged}: {e}")))?;
        let out = self.exec(&install_command(&staged, path, mode, self.target.become_root)).await?;
        if !out.success() {
            let _ = sftp.remove_file(staged.clone()).await;
            return Err(sftp_err(format!("moving into place: {}", out.stderr_text().trim())));
        }
        Ok(())
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        let p = shell_quote(path);
        let out = self.exec(&format!("if [ -e {p} ]; then cat {p}; else exit {MISSING_FILE_STATUS}; fi")).await?;
        match out.exit_status {
            0 => Ok(Some(out.stdout)),
            MISSING_FILE_STATUS => Ok(None),
            _ => Err(TransportError::Sftp {
                host: self.target.name.clone(),
                path: path.to_string(),
                message: out.stderr_text().trim().to_string(),
            }),
        }
    }
}

async fn send_stdin(channel: &russh::Channel<client::Msg>, stdin: &[u8]) -> Result<(), russh::Error> {
    if !stdin.is_empty() {
        channel.data(stdin).await?;
    }
    channel.eof().await
}

fn signal_number(sig: &russh::Sig) -> u32 {
    use russh::Sig::*;
    match sig {
        HUP => 1,
        INT => 2,
        QUIT => 3,
        ILL => 4,
        ABRT => 6,
        FPE => 8,
        KILL => 9,
        SEGV => 11,
        PIPE => 13,
        ALRM => 14,
        TERM => 15,
        USR1 => 10,
        _ => 0,
    }
}

impl SshSession {
    fn become_err(&self, message: String) -> TransportError {
        TransportError::Become { host: self.target.name.clone(), message }
    }
}
