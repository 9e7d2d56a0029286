#!/bin/bash
# Decisions over many distinct merchants with the server's GC traced (docs/perf/api-resources.md, session 13).
# usage: scripts/gcmerchants.sh BIN/lend DATA PORT TAG   (DATA: a demo data dir built with
#   lend serve --demo --demo-merchants 100000, with a LEND_SERVICE_KEY= line added to DATA/demo-keys.txt
#   from `lend keys create --role service`); writes TAG.* files in the current directory.
set -u
BIN=$1; DATA=$2; PORT=$3; TAG=$4
GODEBUG=gctrace=1 LEND_DATA=$DATA $BIN serve --demo --addr 127.0.0.1:$PORT --rate 1000000000 --burst 1000000000 > $TAG.serve.log 2> $TAG.gc.log &
P=$!
for i in $(seq 1 120); do curl -fsS http://127.0.0.1:$PORT/readyz >/dev/null 2>&1 && break; sleep 0.5; done
L=${LENDLOAD:-bin/lendload}
$L -url http://127.0.0.1:$PORT -keys $DATA/demo-keys.txt -scenario decision -merchants 20000 -n 20000 -c 20 > $TAG.warm.txt 2>&1
G0=$(grep -c "^gc " $TAG.gc.log)
$L -url http://127.0.0.1:$PORT -keys $DATA/demo-keys.txt -scenario decision -merchants 20000 -n 60000 -c 64 -rate 2500 > $TAG.open.txt 2>&1
sleep 0.5
tail -n +$((G0+1)) $TAG.gc.log | grep "^gc " > $TAG.gc.run.log
kill $P; wait $P 2>/dev/null
echo "== $TAG"; cat $TAG.warm.txt | cut -c1-200; cat $TAG.open.txt | cut -c1-330
# mark wall time = second term of the clock triple; live heap = last number of a->b->c MB
awk '{split($5,c,"+"); m=c[2]; split($11,h,"->"); print m, h[3]}' $TAG.gc.run.log | sort -n | awk '{a[NR]=$1; hp[NR]=$2} END {print "collections", NR, "mark ms median", a[int((NR+1)/2)], "max", a[NR], "live heap MB (last)", hp[NR]}'
