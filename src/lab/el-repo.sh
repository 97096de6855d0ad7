#!/usr/bin/env bash
# Builds the lab's EL package repositories with rpmbuild and createrepo_c, for EL-flavor lab hosts:
#   OUT/base/        stand-ins for the distribution's repositories: yum-utils, device-mapper-persistent-data,
#                    lvm2, bash-completion (empty packages that only mark themselves installed), and etcd
#                    (Debian's etcd-server binary with an etcd.service, as EL's etcd package ships)
#   OUT/docker-ce/   docker-ce at two versions (18.06.2.ce and 18.09.1): a working Docker engine made of
#                    Debian's docker.io, containerd, runc and tini binaries, with a systemd unit. Both versions
#                    carry the same binaries; what differs is the package version rpm reports.
#   OUT/kubernetes/  a kubectl stand-in
# Usage: el-repo.sh OUT   (needs rpm, createrepo-c and apt lists on this machine). `kubeboot lab up --flavor el`
# runs it once (embedded in the binary) and serves OUT on the lab bridge.
set -euo pipefail
out=${1:?usage: el-repo.sh OUT}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -rf "$out"/base "$out"/docker-ce "$out"/kubernetes

# Debian's Docker binaries, as the machine's package manager fetches them.
(cd "$work" && { apt-get download -qq docker.io containerd runc tini etcd-server 2>/dev/null \
  || { apt-get update -qq && apt-get download -qq docker.io containerd runc tini etcd-server 2>/dev/null; }; })
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/x"; done
bin="$work/bin"; mkdir -p "$bin"
cp "$work/x/usr/sbin/dockerd" "$work/x/usr/bin/docker" "$work/x/usr/bin/containerd" \
   "$work/x/usr/bin/containerd-shim-runc-v2" "$work/x/usr/sbin/runc" "$work/x/usr/sbin/docker-proxy" "$bin/"
cp "$work/x/usr/bin/tini-static" "$bin/docker-init"
etcd_bin="$work/etcd-bin"; mkdir -p "$etcd_bin"
cp "$work/x/usr/bin/etcd" "$etcd_bin/"

build() { # NAME VERSION REPO DESCRIPTION [docker|etcd]
  local name=$1 version=$2 repo=$3 description=$4 payload=${5:-}
  local top="$work/rpm-$name-$version"
  mkdir -p "$top"/{SPECS,RPMS,BUILD,BUILDROOT}
  {
    echo "%global debug_package %{nil}"
    echo "%global __os_install_post %{nil}"
    echo "%define _binary_payload w1.gzdio"
    echo "%define _build_id_links none"
    echo "Name: $name"
    echo "Version: $version"
    echo "Release: 3.el9"
    echo "Summary: kubeboot lab: $description"
    echo "License: Apache-2.0"
    echo "BuildArch: x86_64"
    echo "AutoReqProv: no"
    echo "%description"
    echo "kubeboot lab package: $description"
    echo "%install"
    echo "mkdir -p %{buildroot}/usr/share/kubeboot-lab"
    echo "echo '$name $version' > %{buildroot}/usr/share/kubeboot-lab/$name"
    local from="" unit=""
    case $payload in
      docker) from=$bin unit=docker.service ;;
      etcd) from=$etcd_bin unit=etcd.service ;;
    esac
    if [ -n "$payload" ]; then
      echo "mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib/systemd/system"
      echo "cp $from/* %{buildroot}/usr/bin/"
      echo "cp $work/$unit %{buildroot}/usr/lib/systemd/system/$unit"
    fi
    echo "%files"
    echo "/usr/share/kubeboot-lab/$name"
    if [ -n "$payload" ]; then
      for f in "$from"/*; do echo "/usr/bin/$(basename "$f")"; done
      echo "/usr/lib/systemd/system/$unit"
    fi
  } > "$top/SPECS/$name.spec"
  rpmbuild -bb --quiet --define "_topdir $top" "$top/SPECS/$name.spec" >/dev/null 2>&1 \
    || { rpmbuild -bb --define "_topdir $top" "$top/SPECS/$name.spec" >&2; exit 1; }
  mkdir -p "$out/$repo"
  cp "$top"/RPMS/x86_64/*.rpm "$out/$repo/"
}

cat > "$work/docker.service" <<'UNIT'
[Unit]
Description=Docker Application Container Engine (kubeboot lab docker-ce package)
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
ExecStart=/usr/bin/dockerd -H unix:///var/run/docker.sock
ExecReload=/bin/kill -s HUP $MAINPID
LimitNOFILE=infinity
Delegate=yes
KillMode=process
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT

cat > "$work/etcd.service" <<'UNIT'
[Unit]
Description=etcd (kubeboot lab etcd package: Debian's etcd-server binary)
After=network-online.target

[Service]
Type=notify
ExecStart=/usr/bin/etcd --data-dir /var/lib/etcd/default --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT

for p in yum-utils device-mapper-persistent-data lvm2 bash-completion; do
  build "$p" 1.0 base "stand-in for the distribution's $p"
done
build etcd 3.4.23 base "etcd (Debian etcd-server binary)" etcd
build docker-ce 18.06.2.ce docker-ce "Docker engine (Debian docker.io binaries)" docker
build docker-ce 18.09.1 docker-ce "Docker engine (Debian docker.io binaries)" docker
build kubectl 1.30.0 kubernetes "stand-in for kubectl"
for repo in base docker-ce kubernetes; do createrepo_c -q "$out/$repo"; done
echo "$out"
