#!/usr/bin/env bash
# Regenerates the Java known-answer fixtures in kafka-protocol/tests/fixtures/java/
# using Apache Kafka's own client library (see tools/java-fixtures/pom.xml for the
# exact kafka-clients version). Not run by CI: the generated files are committed.
#
# Requirements: JDK 17+, Maven 3.6+. The first run downloads dependencies from
# Maven Central into ~/.m2; later runs work offline.
#
# Usage: scripts/capture-fixtures.sh [output-dir]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJ="$ROOT/tools/java-fixtures"
OUT="${1:-$ROOT/kafka-protocol/tests/fixtures/java}"
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
java -cp "$PROJ/target/classes:$(cat "$CP_FILE")" io.kafkars.fixtures.CaptureFixtures "$OUT"
