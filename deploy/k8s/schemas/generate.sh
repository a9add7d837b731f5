#!/usr/bin/env bash
# Regenerates the vendored Strimzi JSON Schemas in this directory from Strimzi's own CRD generator
# and API model, both resolved from Maven Central (see strimzi/pom.xml for the version).
# Needs mvn and a Java 21+ runtime (Strimzi 1.x is compiled for Java 21): set JAVA_HOME if the
# default java is older. Usage: deploy/k8s/schemas/generate.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="${KOTAKU_LOCAL_DIR:-$root/.local}/strimzi-crds"
python="${PYTHON:-$root/.venv/bin/python}"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"

rm -rf "$work" && mkdir -p "$work/libs" "$work/crds"
mvn -q -B -f "$here/strimzi/pom.xml" dependency:copy-dependencies -DoutputDirectory="$work/libs" -DincludeScope=runtime
model=io.strimzi.api.kafka.model
"$java" -cp "$work/libs/*" io.strimzi.crdgenerator.CrdGenerator \
  --target-kube 1.16+ --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
  "$model.kafka.Kafka=$work/crds/kafka.yaml" \
  "$model.nodepool.KafkaNodePool=$work/crds/kafkanodepool.yaml" \
  "$model.topic.KafkaTopic=$work/crds/kafkatopic.yaml" \
  "$model.user.KafkaUser=$work/crds/kafkauser.yaml"
"$python" "$here/crd_to_jsonschema.py" "$here" "$work"/crds/*.yaml
