# Shared by deploy/ephemeral/build and deploy/testimage/build (sourced,
# POSIX sh): Debian packages fetched into a .deb cache with `apt-get
# download` and unpacked, never installed, and a busybox initramfs made of
# them. The caller sets $prog (the prefix of its messages) and $cache (the
# .deb cache directory, absolute).

say() {
	echo "$prog: $*"
}
die() {
	echo "$prog: $*" >&2
	exit 1
}

# resolve_kernel PKG: sets kernel_real to the linux-image-VERSION-ABI-
# FLAVOUR package PKG is (or, a metapackage such as
# linux-image-cloud-amd64, names in its Depends) and flavour to its
# FLAVOUR; dies when neither apt nor the cache knows it.
resolve_kernel() {
	kernel_real=$1
	case $1 in
	linux-image-[0-9]*) ;;
	*)
		dep=$(apt-cache depends --important "$1" 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
		if [ -n "$dep" ]; then
			kernel_real=$dep
		else
			# No apt lists (offline, a fresh container): the newest such
			# package already in the cache.
			flav=${1#linux-image-}
			dep=$(cd "$cache" && ls linux-image-[0-9]*-"${flav}"_*.deb 2>/dev/null |
				sed 's/_.*//' | sort -V | tail -n1)
			[ -n "$dep" ] || die "cannot resolve $1: apt-cache knows no such package (no apt lists? run apt-get update) and $cache holds no linux-image-*-${flav}_*.deb"
			kernel_real=$dep
		fi
		;;
	esac
	flavour=$(echo "$kernel_real" | sed 's/^linux-image-[0-9][0-9.]*-[0-9][0-9]*-//')
	[ -n "$flavour" ] && [ "$flavour" != "$kernel_real" ] || die "$kernel_real: not a linux-image-VERSION-ABI-FLAVOUR package"
	case $flavour in
	amd64 | *-amd64) ;;
	*) die "$kernel_real: only amd64 kernels are built (flavour $flavour)" ;;
	esac
}

# deb_for PKG: the path of PKG's .deb in the cache: apt's candidate
# version if apt knows it (downloaded when absent), else whatever version
# is cached. 1, saying where to put it, when there is none.
deb_for() {
	pkg=$1
	ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n1)
	if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
		# apt's file name: the epoch's ':' as %3a.
		file=${pkg}_$(echo "$ver" | sed 's/:/%3a/')_amd64.deb
		if [ ! -s "$cache/$file" ]; then
			say "downloading $pkg $ver" >&2
			sandbox=
			[ "$(id -u)" -eq 0 ] && sandbox="-o APT::Sandbox::User=root"
			# shellcheck disable=SC2086
			if ! (cd "$cache" && apt-get download -q $sandbox "$pkg=$ver" >&2); then
				rm -f "$cache/$file"
			fi
		fi
		if [ -s "$cache/$file" ]; then
			echo "$cache/$file"
			return 0
		fi
	fi
	file=$(cd "$cache" && ls "${pkg}"_*_amd64.deb 2>/dev/null | sort -V | tail -n1)
	if [ -n "$file" ]; then
		[ -n "$ver" ] && say "warning: using $file from the cache, not $pkg $ver (download failed)" >&2
		echo "$cache/$file"
		return 0
	fi
	echo "$prog: $pkg${ver:+ $ver} is missing and could not be downloaded." >&2
	echo "$prog: get it with 'apt-get download $pkg' on a machine with network (or from a" >&2
	echo "$prog: Debian mirror) and put the .deb into $cache (or \$IRONRACK_DEB_CACHE)." >&2
	return 1
}

# package_epoch ROOT PKG: the date of PKG (unpacked in ROOT) in seconds
# since 1970, from its changelog's first trailer line; 0 without one.
package_epoch() {
	epoch=0
	log=$(ls "$1/usr/share/doc/$2"/changelog*.gz 2>/dev/null | head -n1 || true)
	if [ -n "$log" ]; then
		when=$(gzip -dc "$log" | sed -n 's/^ -- .*>  //p' | head -n1)
		[ -n "$when" ] && epoch=$(date -d "$when" +%s 2>/dev/null || echo 0)
	fi
	echo "$epoch"
}

# copy_modules KROOT KVER STAGE MODULE...: the modules (from the kernel
# package unpacked in KROOT) and their dependencies into
# STAGE/lib/modules/KVER, with the modules.dep and modules.alias of that
# subset as text (busybox modprobe reads no .bin). Sets mods_loaded,
# mods_builtin and mods_absent (the kernel builds in, or lacks, those).
copy_modules() {
	kroot=$1
	kv=$2
	stg=$3
	dest=$3/lib/modules/$2
	shift 3
	kmods=$kroot/lib/modules/$kv
	mkdir -p "$dest"
	depmod -b "$kroot" "$kv"
	mods_builtin= mods_absent= mods_loaded=
	for m in "$@"; do
		deps=$(modprobe -d "$kroot" -S "$kv" --show-depends "$m" 2>/dev/null || true)
		if [ -z "$deps" ]; then
			mods_absent="$mods_absent $m"
			continue
		fi
		case $deps in
		builtin*) mods_builtin="$mods_builtin $m"; continue ;;
		esac
		mods_loaded="$mods_loaded $m"
		echo "$deps" | sed -n 's/^insmod \([^ ]*\).*/\1/p' | while read -r path; do
			rel=${path#"$kmods"/}
			mkdir -p "$dest/$(dirname "$rel")"
			cp "$path" "$dest/$rel"
		done
	done
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$kmods/$f" ] && cp "$kmods/$f" "$dest/"
	done
	depmod -b "$stg" "$kv"
	rm -f "$dest"/*.bin
}

# busybox_tree BUSYBOX STAGE: STAGE/bin/busybox and a relative symlink
# for each of its applets, and the directories an init needs.
busybox_tree() {
	mkdir -p "$2/bin" "$2/sbin" "$2/usr/bin" "$2/usr/sbin" "$2/dev" "$2/proc" "$2/sys" "$2/run" \
		"$2/tmp" "$2/etc" "$2/root"
	cp "$1" "$2/bin/busybox"
	"$2/bin/busybox" --list-full | while read -r applet; do
		case $applet in
		bin/busybox) continue ;;
		esac
		[ -e "$2/$applet" ] && continue
		case $applet in
		*/*/*) up=../../ ;;
		*/*) up=../ ;;
		*) up= ;;
		esac
		ln -s "${up}bin/busybox" "$2/$applet"
	done
}

# pack STAGE EPOCH OUT: STAGE as a gzip'd newc archive, the same bytes for
# the same tree: sorted, owner 0:0, every mtime EPOCH (modes are the
# caller's).
pack() {
	find "$1" -exec touch -h -d "@$2" {} +
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc --reproducible -R 0:0 --quiet) | gzip -n -9 >"$3"
}
