# Shell helpers shared by the benchmark scripts (sourced, not run).

# settle [label]: waits (60 s at most) until the page cache's dirty + writeback pages are under
# 256 MiB, so that no run meets a broker whose writes the kernel is throttling for an earlier
# run's data (a 1 KiB run writes about 1 GB; the dirty limit is 20% of RAM).
settle() {
  local kb
  for _ in $(seq 1 60); do
    kb=$(awk '/^(Dirty|Writeback):/{s+=$2} END{print s+0}' /proc/meminfo)
    [ "$kb" -lt 262144 ] && return 0
    sleep 1
  done
  echo "${1:-bench}: still $((kb / 1024)) MiB dirty after 60 s" >&2
}
