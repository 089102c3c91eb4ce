#!/bin/sh
# The ephemeral agent's deploy and erase (docs/deploy.md, "The agent's
# protocol" and "The agent, as built"): the job's fields, the disks, the
# image written by ironrack-imgwrite, the NoCloud seed partition (MBR or
# GPT), the erase. Sourced by the agent, which sets IRONRACK_*, RUN, JOB,
# SEED_BYTES, MIB and the HTTP helpers (post, say, step) first and then
# calls deploy or erase. Busybox sh.

# The start of a report: purpose, token and MAC.
report_head() {
	printf '{"purpose": '
	put "$IRONRACK_PURPOSE"
	printf ', "token": '
	put "$IRONRACK_TOKEN"
	printf ', "mac": '
	put "$IRONRACK_BOOT_MAC"
	printf ', "step": "%s"' "$1"
}

# failed STAGE ERROR: posts the failure and exits.
failed() {
	say "failed at $1: $2"
	step failed
	{
		report_head failed
		printf ', "stage": "%s", "error": ' "$1"
		put "$2"
		printf '}\n'
	} >"$RUN/failed.json"
	post "$RUN/failed.json" "$IRONRACK_PURPOSE failed"
	rc=$?
	[ $rc = 0 ] && exit 3
	exit $rc
}

# ms_now: milliseconds since boot.
ms_now() {
	read -r up _ </proc/uptime
	echo $((${up%.*} * 1000 + 1${up#*.}0 % 1000))
}

# jget PATH: the job's value at PATH ("" when absent).
jget() {
	if [ -f "$JOB/$1" ]; then
		cat "$JOB/$1"
	fi
}

# The disks an action may touch: /sys/block entries that are disks (not
# loop, ram, zram, CD, floppy, device-mapper, md or nbd devices), not
# read-only, with a size, in name order.
disks() {
	for d in /sys/block/*; do
		[ -e "$d" ] || continue
		name=${d##*/}
		case $name in
		loop* | ram* | zram* | sr* | fd* | dm-* | md* | nbd*) continue ;;
		esac
		readf "$d/ro"
		[ "$v" = 1 ] && continue
		readf "$d/size"
		is_uint "$v" && [ "$v" -gt 0 ] || continue
		echo "$name"
	done
}

# first_disk: the first disk that is not removable (docs/deploy.md: "" in
# the job).
first_disk() {
	for name in $(disks); do
		readf "/sys/block/$name/removable"
		[ "$v" = 1 ] && continue
		echo "$name"
		return 0
	done
	return 1
}

# mbr DEV: the partition table of DEV's first sector as lines
# "sig 0|1" and "slot N TYPE START COUNT" (N from 0).
mbr() {
	dd if="$1" bs=512 count=1 2>/dev/null | hexdump -v -e '1/1 "%u\n"' | awk '
		{ b[NR - 1] = $1 }
		END {
			print "sig", (b[510] == 85 && b[511] == 170) ? 1 : 0
			for (i = 0; i < 4; i++) {
				o = 446 + 16 * i
				print "slot", i, b[o + 4] + 0,
					b[o + 8] + 256 * b[o + 9] + 65536 * b[o + 10] + 16777216 * b[o + 11],
					b[o + 12] + 256 * b[o + 13] + 65536 * b[o + 14] + 16777216 * b[o + 15]
			}
		}'
}

# le32 N: N as 4 little-endian bytes, in printf's octal escapes.
le32() {
	printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255))
}

# chs LBA: the 3 CHS bytes of an MBR entry (255 heads, 63 sectors; past
# cylinder 1023 the customary 1023/254/63), in printf's octal escapes.
chs() {
	c=$(($1 / 16065))
	h=$((($1 / 63) % 255))
	sct=$(($1 % 63 + 1))
	if [ $c -gt 1023 ]; then
		c=1023 h=254 sct=63
	fi
	printf '\\%03o\\%03o\\%03o' $h $((sct | ((c >> 2) & 192))) $((c & 255))
}

# part_name DISK N: the name of partition N of DISK (vda 4 -> vda4,
# nvme0n1 4 -> nvme0n1p4).
part_name() {
	case $1 in
	*[0-9]) echo "${1}p$2" ;;
	*) echo "$1$2" ;;
	esac
}

# bytes FILE OFFSET COUNT: COUNT bytes of FILE from OFFSET as decimal
# numbers, one a line.
bytes() {
	dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null | hexdump -v -e '1/1 "%u\n"'
}

# le FILE OFFSET COUNT: the little-endian number of COUNT (<= 8) bytes.
le() {
	n=0
	k=0
	for b in $(bytes "$1" "$2" "$3"); do
		n=$((n + (b << (8 * k))))
		k=$((k + 1))
	done
	echo "$n"
}

# le64 N: N as 8 little-endian bytes, in printf's octal escapes.
le64() {
	le32 $(($1 & 4294967295))
	le32 $((($1 >> 32) & 4294967295))
}

# poke FILE OFFSET ESCAPES: the bytes of printf ESCAPES written into FILE
# at OFFSET.
poke() {
	# shellcheck disable=SC2059
	printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# crc FILE COUNT: the CRC-32 (GPT's, zlib's) of FILE's first COUNT bytes, as
# printf escapes of its 4 little-endian bytes.
crc() {
	h=$(head -c "$2" "$1" | crc32)
	le32 $((0x$h))
}

# seed_mbr: an entry in the first free slot of the MBR in $RUN/mbr for the
# last 4 MiB of $dev (aligned down to 1 MiB; of the first 2 TiB: what an
# MBR addresses), after every partition and the image ($written bytes).
# Sets $partno and $lba, $count; 1 with $err.
seed_mbr() {
	total=$disk_bytes
	max=$((4294967295 * ss))
	[ "$total" -le "$max" ] || total=$max
	start=$((total / MIB * MIB - SEED_BYTES))
	if [ "$start" -lt "$written" ]; then
		err="the disk ($disk_bytes bytes) has no room for the seed's 4 MiB after the image ($written bytes)"
		return 1
	fi
	free=
	while read -r kind slot type pstart pcount; do
		[ "$kind" = slot ] || continue
		if [ "$type" = 0 ]; then
			[ -n "$free" ] || free=$slot
			continue
		fi
		if [ $(((pstart + pcount) * ss)) -gt "$start" ]; then
			err="partition $((slot + 1)) of the image (sectors $pstart+$pcount) reaches into the seed's last 4 MiB of the disk"
			return 1
		fi
	done <"$RUN/mbr"
	if [ -z "$free" ]; then
		err="the image's MBR has no free slot for the seed partition"
		return 1
	fi
	lba=$((start / ss))
	count=$((SEED_BYTES / ss))
	# 16 bytes: not active, CHS first, type 0x0c (FAT32 LBA: what cloud
	# images and Windows expect of a FAT seed), CHS last, LBA, count.
	poke "$dev" $((446 + 16 * free)) "\\000$(chs $lba)\\014$(chs $((lba + count - 1)))$(le32 $lba)$(le32 $count)"
	sync
	mbr "$dev" | grep -q "^slot $free 12 $lba $count\$" ||
		{ err="the partition entry did not read back from $dev"; return 1; }
	partno=$((free + 1))
	return 0
}

# seed_gpt: the same for a GPT disk. The image's backup GPT sits where the
# image ends: it moves to the end of the disk (the entries in the last
# sectors before the backup header in the last one), the seed takes the
# last 4 MiB before it (aligned down to 1 MiB) and the first free entry
# (type "Microsoft basic data", which cloud-init's and every OS's FAT
# probing accept; name "cidata"); both headers are rewritten with their
# CRCs, the old backup header is zeroed, and the protective MBR covers the
# disk. Sets $partno, $lba, $count; 1 with $err.
seed_gpt() {
	h=$RUN/gpt.head
	dd if="$dev" of="$h" bs="$ss" skip=1 count=1 2>/dev/null
	[ "$(dd if="$h" bs=8 count=1 2>/dev/null)" = "EFI PART" ] ||
		{ err="the image has a protective MBR but no GPT header at sector 1"; return 1; }
	hsize=$(le "$h" 12 4)
	my=$(le "$h" 24 8)
	alt=$(le "$h" 32 8)
	elba=$(le "$h" 72 8)
	n=$(le "$h" 80 4)
	esize=$(le "$h" 84 4)
	if [ "$hsize" -lt 92 ] || [ "$hsize" -gt "$ss" ] || [ "$my" != 1 ] || [ "$esize" != 128 ] ||
		[ "$n" -lt 1 ] || [ "$n" -gt 1024 ]; then
		err="the image's GPT header is not one this agent writes to (header $hsize bytes, entries $n of $esize bytes)"
		return 1
	fi
	ebytes=$((n * esize))
	esect=$(((ebytes + ss - 1) / ss))
	e=$RUN/gpt.entries
	dd if="$dev" of="$e" bs="$ss" skip="$elba" count="$esect" 2>/dev/null
	[ "$(head -c "$ebytes" "$e" | crc32)" = "$(printf '%08x' "$(le "$h" 88 4)")" ] ||
		{ err="the image's GPT entries do not match their CRC"; return 1; }
	# The first free entry and where the used ones end (LBAs < 2^53).
	# shellcheck disable=SC2046
	set -- $(head -c "$ebytes" "$e" | hexdump -v -e '1/1 "%u\n"' | awk -v esize="$esize" '
		BEGIN { m[0] = 1; for (k = 1; k < 8; k++) m[k] = m[k - 1] * 256 }
		{ i = int((NR - 1) / esize); o = (NR - 1) % esize
		  if (o < 16 && $1 != 0) used[i] = 1
		  if (o >= 40 && o < 48) last[i] += $1 * m[o - 40] }
		END { free = -1; end = 0
		  for (k = 0; k < NR / esize; k++) {
			if (!(k in used)) { if (free < 0) free = k; continue }
			if (last[k] + 1 > end) end = last[k] + 1 }
		  printf "%d %.0f\n", free, end }')
	free=$1
	used_end=$2
	[ "$free" -ge 0 ] || { err="the image's GPT has no free entry for the seed partition"; return 1; }
	sectors=$((disk_bytes / ss))
	nalt=$((sectors - 1))
	nelba=$((nalt - esect))
	nlast=$((nelba - 1))
	start=$(((nlast + 1) * ss / MIB * MIB - SEED_BYTES))
	if [ "$start" -lt "$written" ] || [ "$start" -lt $((used_end * ss)) ]; then
		err="the disk ($disk_bytes bytes) has no room for the seed's 4 MiB and the GPT after the image's partitions ($written bytes written)"
		return 1
	fi
	lba=$((start / ss))
	count=$((SEED_BYTES / ss))
	# The entry: type EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, a random
	# unique GUID (version 4), first and last LBA, no attributes, the name
	# in UTF-16LE.
	guid=$(dd if=/dev/urandom bs=16 count=1 2>/dev/null | hexdump -v -e '1/1 "%u "')
	set -- $guid
	g=
	k=0
	for b in "$@"; do
		[ $k = 7 ] && b=$(((b & 15) | 64))
		[ $k = 8 ] && b=$(((b & 63) | 128))
		g="$g$(printf '\\%03o' "$b")"
		k=$((k + 1))
	done
	o=$((free * esize))
	head -c "$esize" /dev/zero | dd of="$e" bs=1 seek="$o" conv=notrunc 2>/dev/null
	poke "$e" "$o" "\\242\\240\\320\\353\\345\\271\\063\\104\\207\\300\\150\\266\\267\\046\\231\\307$g$(le64 $lba)$(le64 $((lba + count - 1)))$(le64 0)"
	poke "$e" $((o + 56)) 'c\000i\000d\000a\000t\000a\000'
	# The primary header: backup and last usable LBA, the entries' CRC, its
	# own CRC (computed with the field zero). The backup: the same with
	# its own LBA, the primary's and its entries' LBA.
	poke "$h" 32 "$(le64 $nalt)"
	poke "$h" 48 "$(le64 $nlast)"
	poke "$h" 88 "$(crc "$e" "$ebytes")"
	poke "$h" 16 '\000\000\000\000'
	poke "$h" 16 "$(crc "$h" "$hsize")"
	b=$RUN/gpt.backup
	cp "$h" "$b"
	poke "$b" 24 "$(le64 $nalt)"
	poke "$b" 32 "$(le64 1)"
	poke "$b" 72 "$(le64 $nelba)"
	poke "$b" 16 '\000\000\000\000'
	poke "$b" 16 "$(crc "$b" "$hsize")"
	# Backup first, then primary: a table half written is the old one.
	if [ "$alt" != "$nalt" ] && [ "$alt" -gt 1 ] && [ "$alt" -lt "$sectors" ]; then
		dd if=/dev/zero of="$dev" bs="$ss" seek="$alt" count=1 conv=notrunc 2>/dev/null
	fi
	dd if="$e" of="$dev" bs="$ss" seek="$nelba" count="$esect" conv=notrunc 2>/dev/null &&
		dd if="$b" of="$dev" bs="$ss" seek="$nalt" count=1 conv=notrunc 2>/dev/null &&
		dd if="$e" of="$dev" bs="$ss" seek="$elba" count="$esect" conv=notrunc 2>/dev/null &&
		dd if="$h" of="$dev" bs="$ss" seek=1 count=1 conv=notrunc 2>"$RUN/dd.err" ||
		{ err="writing the GPT: $(tail -n1 "$RUN/dd.err")"; return 1; }
	# The protective MBR's entry spans the disk (at most 2^32-1 sectors).
	pm=$((sectors - 1))
	[ "$pm" -le 4294967295 ] || pm=4294967295
	poke "$dev" $((446 + 16 * pmbr_slot + 12)) "$(le32 $pm)"
	sync
	dd if="$dev" of="$RUN/gpt.check" bs="$ss" skip=1 count=1 2>/dev/null
	cmp -s "$h" "$RUN/gpt.check" || { err="the GPT header did not read back from $dev"; return 1; }
	partno=$((free + 1))
	return 0
}

# seed DISK WRITTEN: the NoCloud seed (docs/deploy.md, "The NoCloud seed")
# on DISK, whose first WRITTEN bytes are the image: a partition for the
# last 4 MiB in its MBR (seed_mbr) or GPT (seed_gpt), a FAT labelled cidata
# on it, meta-data, user-data and network-config in it. 1 with $err set
# when that cannot be done.
seed() {
	disk=$1
	dev=/dev/$1
	written=$2
	readf "/sys/block/$disk/queue/logical_block_size"
	ss=$v
	is_uint "$ss" && [ "$ss" -ge 512 ] || ss=512
	readf "/sys/block/$disk/size"
	disk_bytes=$((v * 512))
	mbr "$dev" >"$RUN/mbr" || { err="cannot read the partition table of $dev"; return 1; }
	if ! grep -q '^sig 1$' "$RUN/mbr"; then
		err="the image has no partition table (no 0x55aa signature in its first sector)"
		return 1
	fi
	pmbr_slot=$(awk '$1 == "slot" && $3 == 238 { print $2; exit }' "$RUN/mbr")
	if [ -n "$pmbr_slot" ]; then
		seed_gpt || return 1
		table=GPT
	else
		seed_mbr || return 1
		table=MBR
	fi
	part=$(part_name "$disk" "$partno")
	say "seed: $table partition $partno of $dev, sectors $lba+$count ($part)"
	# The kernel rereads the table (BLKRRPART); the node appears in /dev.
	blockdev --rereadpt "$dev" 2>"$RUN/rr.err" ||
		partprobe "$dev" 2>>"$RUN/rr.err" ||
		{ err="the kernel did not reread the partition table of $dev: $(tail -n1 "$RUN/rr.err")"; return 1; }
	i=0
	while [ ! -b "/dev/$part" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -b "/dev/$part" ] || { err="/dev/$part did not appear after rereading the partition table"; return 1; }
	readf "/sys/class/block/$part/start"
	[ "$v" = $((lba * ss / 512)) ] || { err="the kernel sees /dev/$part at sector $v, not $((lba * ss / 512))"; return 1; }
	# The file system: our empty cidata FAT, with a volume id of its own
	# (offset 39 of a FAT12/16 boot sector).
	gunzip -c /usr/share/ironrack/cidata.fat.gz | dd of="/dev/$part" bs=65536 conv=fsync 2>"$RUN/dd.err" ||
		{ err="writing the seed's file system: $(tail -n1 "$RUN/dd.err")"; return 1; }
	dd if=/dev/urandom of="/dev/$part" bs=1 seek=39 count=4 conv=notrunc 2>/dev/null
	modprobe -q vfat 2>/dev/null
	modprobe -q nls_cp437 2>/dev/null
	modprobe -q nls_ascii 2>/dev/null
	mnt=$RUN/cidata
	mkdir -p "$mnt"
	mount -t vfat "/dev/$part" "$mnt" 2>"$RUN/mount.err" ||
		{ err="mounting the seed: $(tail -n1 "$RUN/mount.err")"; return 1; }
	for f in meta-data user-data network-config; do
		if [ -f "$JOB/seed.$f" ]; then
			cp "$JOB/seed.$f" "$mnt/$f"
		else
			: >"$mnt/$f"
		fi || { umount "$mnt"; err="writing $f to the seed"; return 1; }
	done
	umount "$mnt" || { err="unmounting the seed"; return 1; }
	sync
	return 0
}

deploy() {
	name=$(jget image.name)
	url=$(jget image.url)
	format=$(jget image.format)
	sha=$(jget image.sha256)
	size=$(jget image.size)
	disk=$(jget disk)
	case $url in
	/*) url=${IRONRACK_URL%/}$url ;;
	http://*) ;;
	*) failed download "the job: image.url '$url' is neither a path on the rack nor http://" ;;
	esac
	case $format in
	raw | gzip | zstd) ;;
	*) failed download "the job: image.format '$format' is not raw, gzip or zstd" ;;
	esac
	case $sha in
	*[!0-9a-f]*) failed download "the job: image.sha256 is not 64 hex digits" ;;
	esac
	[ ${#sha} = 64 ] || failed download "the job: image.sha256 is not 64 hex digits"
	is_uint "$size" && [ "$size" -gt 0 ] || failed download "the job: image.size '$size' is not a size"
	[ "$disk" = null ] && disk=
	disk=${disk#/dev/}
	if [ -z "$disk" ]; then
		disk=$(first_disk) || failed write "no disk to write to (no non-removable disk in /sys/block)"
	fi
	case $disk in
	*/* | .*) failed write "the job: disk '$disk' is not a disk name" ;;
	esac
	[ -b "/dev/$disk" ] || failed write "no disk /dev/$disk"
	readf "/sys/block/$disk/size"
	say "deploy: image ${name:-?} ($format, $size bytes, sha256 $sha) from $url to /dev/$disk ($((v * 512)) bytes)"

	command -v ironrack-imgwrite >/dev/null 2>&1 ||
		failed write "ironrack-imgwrite is not in the ephemeral environment"
	# The seed's file system modules, loaded while the image is written
	# (each module load takes a while on a slow machine).
	(modprobe -q -a vfat nls_cp437 nls_ascii 2>/dev/null &)
	every=$(jget report_every_ms)
	is_uint "$every" && [ "$every" -ge 1000 ] || every=5000
	t0=$(ms_now)
	# Its progress (stderr) on the console as it comes; its last stderr
	# line is the error when it fails.
	: >"$RUN/imgwrite.err"
	{
		ironrack-imgwrite --url "$url" --sha256 "$sha" --size "$size" --format "$format" --disk "/dev/$disk" \
			--progress-ms "$every"
		echo $? >"$RUN/imgwrite.rc"
	} 2>&1 >"$RUN/imgwrite.out" | while IFS= read -r l; do
		echo "ironrack-agent: imgwrite: ${l#ironrack-imgwrite: }"
		echo "$l" >>"$RUN/imgwrite.err"
	done
	read -r rc <"$RUN/imgwrite.rc" || rc=1
	t_written=$(ms_now)
	sed 's/^/ironrack-agent: imgwrite: /' "$RUN/imgwrite.out"
	msg=$(grep -v '^[[:space:]]*$' "$RUN/imgwrite.err" | tail -n1)
	case $rc in
	0) ;;
	2) failed download "${msg:-ironrack-imgwrite: download failed}" ;;
	3) failed verify "${msg:-ironrack-imgwrite: checksum mismatch}" ;;
	4) failed write "${msg:-ironrack-imgwrite: write failed}" ;;
	*) failed write "ironrack-imgwrite exited $rc${msg:+: $msg}" ;;
	esac
	step written
	bytes= download_ms= write_ms= got=
	for kv in $(grep '^bytes=' "$RUN/imgwrite.out" | tail -n1); do
		case $kv in
		bytes=*) bytes=${kv#*=} ;;
		download_ms=*) download_ms=${kv#*=} ;;
		write_ms=*) write_ms=${kv#*=} ;;
		sha256=*) got=${kv#*=} ;;
		esac
	done
	is_uint "$bytes" || failed write "ironrack-imgwrite did not say how many bytes it wrote"
	is_uint "$download_ms" || download_ms=$((t_written - t0))
	is_uint "$write_ms" || write_ms=$((t_written - t0))
	[ -n "$got" ] || got=$sha
	[ "$got" = "$sha" ] || failed verify "checksum: expected $sha, got $got"
	say "deploy: wrote $bytes bytes in $((t_written - t0)) ms (download $download_ms ms, write $write_ms ms)"

	seed "$disk" "$bytes" || failed seed "$err"
	step seed
	say "deploy: NoCloud seed written in $(($(ms_now) - t_written)) ms"
	{
		report_head "done"
		printf ', "result": {"disk": "/dev/%s", "bytes": %s, "download_ms": %s, "write_ms": %s, "sha256": "%s"}}\n' \
			"$disk" "$bytes" "$download_ms" "$write_ms" "$got"
	} >"$RUN/done.json"
	post "$RUN/done.json" "deploy done"
	exit $?
}

# zero DEV FROM COUNT: COUNT 512-byte sectors of DEV from sector FROM
# zeroed (1 MiB writes where they fit).
zero() {
	from=$2
	left=$3
	big=$((left / 2048))
	if [ $((from % 2048)) = 0 ] && [ $big -gt 0 ]; then
		dd if=/dev/zero of="$1" bs=1048576 seek=$((from / 2048)) count=$big conv=notrunc,fsync 2>"$RUN/dd.err" ||
			return 1
		from=$((from + big * 2048))
		left=$((left - big * 2048))
	fi
	[ "$left" -gt 0 ] || return 0
	dd if=/dev/zero of="$1" bs=512 seek="$from" count="$left" conv=notrunc,fsync 2>"$RUN/dd.err"
}

erase() {
	mode=$(jget mode)
	case $mode in
	quick | full) ;;
	*) failed erase "the job: erase mode '$mode' is not quick or full" ;;
	esac
	t0=$(ms_now)
	list=
	total=0
	for disk in $(disks); do
		readf "/sys/block/$disk/size"
		sectors=$v
		say "erase ($mode): /dev/$disk, $((sectors * 512)) bytes"
		if [ "$mode" = full ] || [ "$sectors" -le 4096 ]; then
			zero "/dev/$disk" 0 "$sectors" || failed erase "erasing /dev/$disk: $(tail -n1 "$RUN/dd.err")"
			total=$((total + sectors * 512))
		else
			zero "/dev/$disk" 0 2048 && zero "/dev/$disk" $((sectors - 2048)) 2048 ||
				failed erase "erasing /dev/$disk: $(tail -n1 "$RUN/dd.err")"
			total=$((total + 2 * MIB))
		fi
		list="$list${list:+, }\"/dev/$disk\""
		# The kernel forgets the partitions that were there.
		blockdev --rereadpt "/dev/$disk" >/dev/null 2>&1
	done
	sync
	ms=$(($(ms_now) - t0))
	step erased
	say "erase ($mode): $total bytes zeroed in $ms ms"
	{
		report_head "done"
		printf ', "result": {"mode": "%s", "disks": [%s], "bytes": %s, "write_ms": %s}}\n' "$mode" "$list" "$total" "$ms"
	} >"$RUN/done.json"
	post "$RUN/done.json" "erase done"
	exit $?
}
