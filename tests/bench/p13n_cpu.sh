#!/bin/bash
# usage: tests/bench/p13n_cpu.sh BIN LABEL — the spec 000 routes on a release `local` binary (demo at
# 10,000 products / 10,000 customers / 20,000 orders): server CPU per request (utime + stime of
# the server process over a 10 s wrk run at one connection) and wrk latency. Needs wrk.
BIN=$1; L=$2
W=$(mktemp -d); PORT=$((20000 + RANDOM % 9000)); BASE=http://127.0.0.1:$PORT
LOG_FORMAT=text RUST_LOG=warn $BIN serve --host 127.0.0.1 --port $PORT --memory --demo --data-dir $W/data --demo-products 10000 --demo-videos 36 --demo-customers 10000 --demo-orders 20000 --demo-teachers 0 > $W/server.log 2>&1 &
SP=$!
trap "kill $SP 2>/dev/null; rm -rf $W" EXIT
t0=$(date +%s)
for i in $(seq 1 2400); do grep -q "Serving on" $W/server.log && break; sleep 0.5; done
echo "$L: server up after $(( $(date +%s) - t0 )) s"
TOKEN=$(curl -s -X POST $BASE/api/v1/auth/login -H 'Content-Type: application/x-www-form-urlencoded' --data 'username=customer000&password=password123' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
ADMIN=$(curl -s -X POST $BASE/api/v1/auth/login -H 'Content-Type: application/x-www-form-urlencoded' --data 'username=admin@ecommerce.com&password=admin123' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
P=/api/analytics/personalization
ME=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/users/profile" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
SEG=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE$P/user/$ME/segments" | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print([x["segment_id"] for x in d["details"] if x["segment_type"]=="activity_level"][0])')
PROD=$(curl -s "$BASE/api/v1/recommendations/popular?limit=1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["id"] if isinstance(d,list) else d["recommendations"][0]["id"])')
echo "$L: user $ME segment $SEG product $PROD; seg recs: $(curl -s -H "Authorization: Bearer $TOKEN" "$BASE$P/segment/$SEG/recommendations" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["recommendations"]))') items"
cpu() { awk '{print $14+$15}' /proc/$SP/stat; }
run() { # name token nocache path
  local name=$1 tok=$2 nc=$3 path=$4; local H=(-H "Authorization: Bearer $tok"); [[ $nc == 1 ]] && H+=(-H 'Cache-Control: no-cache')
  wrk -t1 -c1 -d3s "${H[@]}" "$BASE$path" >/dev/null
  c0=$(cpu); out=$(wrk -t1 -c1 -d10s --latency "${H[@]}" "$BASE$path"); c1=$(cpu)
  n=$(echo "$out" | awk '/requests in/{print $1}')
  p50=$(echo "$out" | awk '$1=="50%"{print $2}'); p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  echo "$L $name c=1: $n req, cpu/req $(python3 -c "print(round(($c1-$c0)*10/$n,3))") ms, p50 $p50 p99 $p99 (load $(cut -d' ' -f1 /proc/loadavg))"
}
run segments $TOKEN 0 "$P/user/$ME/segments"
run segments-fresh $TOKEN 1 "$P/user/$ME/segments"
run segrecs $TOKEN 0 "$P/segment/$SEG/recommendations"
run segrecs-fresh $TOKEN 1 "$P/segment/$SEG/recommendations"
run content $TOKEN 0 "$P/user/$ME/content?limit=10"
run content-fresh $TOKEN 1 "$P/user/$ME/content?limit=10"
run perf $ADMIN 0 "$P/content/$PROD"
