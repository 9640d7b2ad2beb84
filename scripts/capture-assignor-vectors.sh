#!/usr/bin/env bash
# Regenerates the partition-assignor vectors in kafka-consumer/tests/fixtures/assignors/ by
# running Apache Kafka's own assignors (kafka-clients, version in tools/java-assignors/pom.xml)
# on deterministic generated scenarios. Idempotent: the same seed gives the same files.
# Not run by CI: the generated files are committed.
#
# Requirements: JDK 17+, Maven 3.6+. The first run downloads dependencies from Maven Central
# into ~/.m2; later runs work offline.
#
# Usage: scripts/capture-assignor-vectors.sh [output-dir]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJ="$ROOT/tools/java-assignors"
OUT="${1:-$ROOT/kafka-consumer/tests/fixtures/assignors}"
CP_FILE="$PROJ/target/classpath.txt"

build() {
    mvn -q -B "$@" -f "$PROJ/pom.xml" compile dependency:build-classpath \
        -Dmdep.outputFile="$CP_FILE" -Dmdep.includeScope=runtime
}

# Try offline first (warm ~/.m2), fall back to an online build.
if ! build -o >/dev/null 2>&1; then
    build
fi

mkdir -p "$OUT"
java -cp "$PROJ/target/classes:$(cat "$CP_FILE")" io.kafkars.assignors.AssignorVectors "$OUT"
