#!/bin/sh
# Builds Provisio's container images (LXC root file systems) from recipes, reproducibly from
# Debian packages (debootstrap) and npm, and caches them by the recipe's hash.
#
#   scripts/build-images.sh [--arch amd64|arm64|armhf] [--cache DIR] [--provisio-bin PATH] [RECIPE...]
#
# Default: every *.recipe under assets/library. Prints one line per recipe on stdout:
#   <recipe path><TAB><tarball path>
# and progress on stderr; exits non-zero naming the recipe and the failed step.
#
# A recipe is `key = value` lines (# comments), then a line `--- init ---`, then the POSIX-sh
# script that becomes /sbin/provisio-init. Keys: name, distribution (debian), release
# (bookworm), packages (Debian packages), npm (npm packages with pinned versions, installed
# globally with the image's own node/npm), bundle (`provisio`: the provisio binary is copied to
# /usr/local/bin/provisio).
#
# Cache: --cache, else $PROVISIO_IMAGE_CACHE, else /var/cache/provisio/images when root, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/provisio/images. Image file: <name>-<arch>-<key>.tar.gz, key =
# first 16 hex of sha256 of the lines "provisio-image-key v1", "recipe <sha256 of the recipe>",
# "builder <sha256 of this script>", "arch <arch>", "bundle <sha256 of the bundled binary or ->"
# (each ending in a newline; engines/src/images.rs computes the same). The debootstrapped base
# system is cached once per release and arch (base/) and shared by all recipes.
#
# Needs root, debootstrap, tar, gzip, sha256sum and network access to deb.debian.org (and
# registry.npmjs.org for npm packages). Foreign architectures (arm64, armhf for Raspberry Pis)
# run through qemu-user-static: apt-get install qemu-user-static binfmt-support, then e.g.
#   scripts/build-images.sh --arch arm64 --provisio-bin target/aarch64-unknown-linux-gnu/release/provisio
# (a bundled provisio binary must be built for that architecture).
set -eu

MIRROR=${PROVISIO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${PROVISIO_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Bump when the base system is made differently (it is cached apart from the builder's hash).
BASE_VERSION=1
SELF=$0

say() { printf '%s\n' "$*" >&2; }
die() { say "build-images: $*"; exit 1; }

host_arch() {
  if command -v dpkg >/dev/null 2>&1; then dpkg --print-architecture; return; fi
  case $(uname -m) in
    x86_64) echo amd64 ;; aarch64) echo arm64 ;; armv7l|armv6l) echo armhf ;; *) uname -m ;;
  esac
}

arch=$(host_arch)
cache=""
provisio_bin=${PROVISIO_BIN:-}
recipes=""
while [ $# -gt 0 ]; do
  case $1 in
    --arch) [ $# -ge 2 ] || die "--arch needs a value"; arch=$2; shift 2 ;;
    --arch=*) arch=${1#--arch=}; shift ;;
    --cache) [ $# -ge 2 ] || die "--cache needs a value"; cache=$2; shift 2 ;;
    --cache=*) cache=${1#--cache=}; shift ;;
    --provisio-bin) [ $# -ge 2 ] || die "--provisio-bin needs a value"; provisio_bin=$2; shift 2 ;;
    --provisio-bin=*) provisio_bin=${1#--provisio-bin=}; shift ;;
    -h|--help) sed -n '2,28p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
case $arch in
  amd64|arm64|armhf) ;;
  *) die "--arch $arch: use amd64, arm64 or armhf" ;;
esac
if [ -z "$cache" ]; then
  if [ -n "${PROVISIO_IMAGE_CACHE:-}" ]; then cache=$PROVISIO_IMAGE_CACHE
  elif [ "$(id -u)" -eq 0 ]; then cache=/var/cache/provisio/images
  else cache=${XDG_CACHE_HOME:-$HOME/.cache}/provisio/images
  fi
fi
if [ $# -eq 0 ]; then
  root=$(cd "$(dirname "$SELF")/.." && pwd)
  set -- $(find "$root/assets/library" -name '*.recipe' | LC_ALL=C sort)
  [ $# -gt 0 ] || die "no *.recipe under $root/assets/library"
fi
mkdir -p "$cache" || die "cannot create the cache $cache"
cache=$(cd "$cache" && pwd)

sha() { sha256sum "$1" | cut -c1-64; }
builder_sha=$(sha "$SELF")

# Header value of KEY in recipe $1 (after the first `=`, trimmed).
field() {
  awk -v k="$2" '
    /^--- init ---[ \t\r]*$/ { exit }
    /^[ \t]*#/ { next }
    {
      i = index($0, "="); if (i == 0) next
      key = substr($0, 1, i - 1); gsub(/^[ \t]+|[ \t\r]+$/, "", key)
      if (key == k) { v = substr($0, i + 1); gsub(/^[ \t]+|[ \t\r]+$/, "", v); print v; exit }
    }' "$1"
}

# --- mounts and cleanup: whatever is mounted is unmounted on every exit ---
mounted=""
workdir=""
current=""
step=""
cleanup() {
  rc=$?
  for m in $mounted; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  mounted=""
  if [ -n "$workdir" ] && [ -d "$workdir" ]; then rm -rf "$workdir"; fi
  if [ $rc -ne 0 ] && [ -n "$current" ]; then
    say "build-images: $current: failed at step: $step"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_chroot() {
  mount -t proc proc "$1/proc" && mounted="$1/proc $mounted"
  mount --bind /dev "$1/dev" && mounted="$1/dev $mounted"
}
umount_chroot() {
  for m in $mounted; do umount "$m" 2>/dev/null || umount -l "$m"; done
  mounted=""
}
in_chroot() {
  r=$1; shift
  LC_ALL=C DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    chroot "$r" "$@"
}
# Runs a step, its output in $log; on failure the log's tail is shown.
run() {
  if ! "$@" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    return 1
  fi
}

qemu_for() {
  case $1 in arm64) echo qemu-aarch64-static ;; armhf) echo qemu-arm-static ;; *) echo "" ;; esac
}

# The debootstrapped base system of $release/$arch, cached as a tarball; sets $base.
base_image() {
  release=$1
  base="$cache/base/debian-$release-$arch-v$BASE_VERSION.tar.gz"
  if [ -f "$base" ]; then return; fi
  mkdir -p "$cache/base"
  step="debootstrap $release ($arch) from $MIRROR"
  say "==> base system: $step"
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  b=$(mktemp -d "$cache/base/.build-XXXXXX")
  workdir=$b
  log="$b/build.log"
  qemu=$(qemu_for "$arch")
  if [ "$arch" = "$(host_arch)" ]; then
    run debootstrap --variant=minbase --arch="$arch" "$release" "$b/root" "$MIRROR"
  else
    [ -n "$qemu" ] && command -v "$qemu" >/dev/null ||
      die "building $arch on $(host_arch) needs qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support)"
    run debootstrap --variant=minbase --foreign --arch="$arch" "$release" "$b/root" "$MIRROR"
    cp "$(command -v "$qemu")" "$b/root/usr/bin/"
    step="debootstrap second stage ($arch, through $qemu)"
    run in_chroot "$b/root" /debootstrap/debootstrap --second-stage
  fi
  step="base system setup"
  cat >"$b/root/etc/apt/sources.list" <<EOF
deb $MIRROR $release main
deb $MIRROR $release-updates main
deb $SECURITY_MIRROR $release-security main
EOF
  # No documentation, manuals or translations in images (copyright files stay).
  mkdir -p "$b/root/etc/dpkg/dpkg.cfg.d" "$b/root/etc/apt/apt.conf.d"
  cat >"$b/root/etc/dpkg/dpkg.cfg.d/01-provisio-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  cat >"$b/root/etc/apt/apt.conf.d/01-provisio" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
  strip_system "$b/root"
  pack "$b/root" "$b/base.tar.gz"
  mv "$b/base.tar.gz" "$base"
  rm -rf "$b"
  workdir=""
}

# Removes what an image does not need at run time.
strip_system() {
  r=$1
  rm -rf "$r/var/lib/apt/lists"/* "$r/var/cache/apt"/* "$r/var/cache/debconf"/*-old \
    "$r/var/lib/dpkg"/*-old "$r/var/log"/* "$r/tmp"/* "$r/var/tmp"/* "$r/root/.npm" \
    "$r/root/.cache" "$r/usr/share/man"/* "$r/usr/share/info"/* "$r/usr/share/lintian" \
    "$r/debootstrap"
  find "$r/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  find "$r/usr/lib" -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
  : >"$r/etc/machine-id" 2>/dev/null || true
}

# Deterministic tarball of directory $1 into $2: sorted names, fixed mtime, numeric owners, gzip -n.
pack() {
  (cd "$1" && tar --sort=name --mtime=@0 --numeric-owner --format=gnu -cf - .) | gzip -n -6 >"$2.part"
  mv "$2.part" "$2"
}

build() {
  recipe=$1
  current=$recipe
  step="read recipe"
  [ -f "$recipe" ] || die "$recipe: no such file"
  grep -q '^--- init ---[[:space:]]*$' "$recipe" || die "$recipe: no '--- init ---' line"
  name=$(field "$recipe" name)
  distribution=$(field "$recipe" distribution)
  release=$(field "$recipe" release)
  packages=$(field "$recipe" packages)
  npm_packages=$(field "$recipe" npm)
  bundle=$(field "$recipe" bundle)
  case $name in
    ''|*[!A-Za-z0-9_.-]*) die "$recipe: name '$name': use letters, digits, '.', '_' and '-'" ;;
  esac
  # Package names only: no options (a word starting with '-' would reach apt-get or npm as one).
  for word in $packages $npm_packages; do
    case $word in
      -*|*[!A-Za-z0-9@._+:/~=^-]*) die "$recipe: package '$word' is not a package name" ;;
    esac
  done
  [ "${distribution:-debian}" = debian ] || die "$recipe: distribution '$distribution': only debian"
  release=${release:-bookworm}
  case $release in *[!a-z]*) die "$recipe: release '$release' is not a Debian code name" ;; esac
  bundle_sha=-
  case $bundle in
    '') ;;
    provisio)
      if [ -z "$provisio_bin" ]; then provisio_bin=$(command -v provisio || true); fi
      [ -n "$provisio_bin" ] && [ -f "$provisio_bin" ] ||
        die "$recipe: bundle = provisio needs the provisio binary (--provisio-bin PATH)"
      bundle_sha=$(sha "$provisio_bin") ;;
    *) die "$recipe: bundle '$bundle': only 'provisio'" ;;
  esac
  key=$(printf 'provisio-image-key v1\nrecipe %s\nbuilder %s\narch %s\nbundle %s\n' \
    "$(sha "$recipe")" "$builder_sha" "$arch" "$bundle_sha" | sha256sum | cut -c1-16)
  out="$cache/$name-$arch-$key.tar.gz"
  if [ -z "$locked" ] && [ ! -f "$out" ]; then
    # One build at a time per cache (the base system is shared); cached images need no lock.
    exec 9>"$cache/.lock"
    if command -v flock >/dev/null; then flock 9; fi
    locked=1
  fi
  if [ -f "$out" ]; then
    printf '%s\t%s\n' "$recipe" "$out"
    current=""
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "$recipe: building an image needs root (debootstrap, chroot)"
  started=$(date +%s)
  say "==> $name ($arch): building"
  base_image "$release"
  step="unpack the base system"
  workdir=$(mktemp -d "$cache/.build-$name-XXXXXX")
  log="$workdir/build.log"
  r="$workdir/root"
  mkdir "$r"
  tar -xzf "$base" -C "$r"
  # /proc and /dev only for package scripts and npm; unmounted on every exit (trap).
  if [ -n "$packages" ] || [ -n "$npm_packages" ]; then mount_chroot "$r"; fi
  # No service starts inside the build chroot; DNS for apt and npm.
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 755 "$r/usr/sbin/policy-rc.d"
  rm -f "$r/etc/resolv.conf"
  cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
  if [ -n "$packages" ] || [ -n "$npm_packages" ]; then
    step="apt-get update"
    say "    $step"
    run in_chroot "$r" apt-get update -q
  fi
  if [ -n "$packages" ]; then
    step="apt-get install $packages"
    say "    $step"
    # shellcheck disable=SC2086
    run in_chroot "$r" apt-get install -y -q --no-install-recommends -- $packages
  fi
  if [ -n "$npm_packages" ]; then
    temp_npm=""
    if ! in_chroot "$r" sh -c 'command -v npm' >/dev/null 2>&1; then
      step="apt-get install npm (for the build only)"
      say "    $step"
      run in_chroot "$r" apt-get install -y -q --no-install-recommends npm
      temp_npm=1
    fi
    step="npm install -g $npm_packages"
    say "    $step"
    # npm trusts what the host trusts (a proxy's CA, say) during the build only: the bundle is
    # copied to /tmp, which the image is cleaned of.
    host_ca=${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
    extra_ca=""
    if [ -f "$host_ca" ]; then
      cp "$host_ca" "$r/tmp/provisio-build-ca.crt"
      extra_ca=/tmp/provisio-build-ca.crt
    fi
    # shellcheck disable=SC2086
    run in_chroot "$r" env NODE_EXTRA_CA_CERTS="$extra_ca" npm install -g --omit=dev --no-audit \
      --no-fund --no-update-notifier --loglevel=error $npm_packages
    if [ -n "$temp_npm" ]; then
      step="remove npm"
      run in_chroot "$r" apt-get purge -y -q --auto-remove npm
    fi
    in_chroot "$r" npm cache clean --force >/dev/null 2>&1 || true
  fi
  step="clean up"
  in_chroot "$r" apt-get clean >/dev/null 2>&1 || true
  umount_chroot
  rm -f "$r/usr/sbin/policy-rc.d" "$r/etc/resolv.conf"
  qemu=$(qemu_for "$arch")
  [ -z "$qemu" ] || rm -f "$r/usr/bin/$qemu"
  strip_system "$r"
  if [ "$bundle" = provisio ]; then
    step="bundle $provisio_bin"
    mkdir -p "$r/usr/local/bin"
    cp "$provisio_bin" "$r/usr/local/bin/provisio"
    if [ "$arch" = "$(host_arch)" ] && command -v strip >/dev/null; then
      strip "$r/usr/local/bin/provisio" 2>/dev/null || true
    fi
    chmod 755 "$r/usr/local/bin/provisio"
  fi
  step="write /sbin/provisio-init"
  sed '1,/^--- init ---[[:space:]]*$/d' "$recipe" >"$r/sbin/provisio-init"
  chmod 755 "$r/sbin/provisio-init"
  mkdir -p "$r/etc/provisio" "$r/var/lib/provisio"
  printf 'name=%s\narch=%s\nkey=%s\n' "$name" "$arch" "$key" >"$r/etc/provisio/image"
  step="pack $out"
  pack "$r" "$workdir/image.tar.gz"
  mv "$workdir/image.tar.gz" "$out"
  rm -rf "$workdir"
  workdir=""
  say "    $name: $(du -k "$out" | cut -f1) KiB in $(($(date +%s) - started)) s"
  printf '%s\t%s\n' "$recipe" "$out"
  current=""
}

locked=""
log=/dev/null
for recipe in "$@"; do
  build "$recipe"
done
