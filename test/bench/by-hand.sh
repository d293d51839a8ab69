#!/usr/bin/env bash
# The ARCNM chain the way users write it by hand in a workflow step: one file after the other, curl and jq,
# presign → PUT to the returned URL with the returned headers → confirm → poll the upload list every 0.2 s until
# ARCNM has confirmed the upload (confirm's job_id is no verdict; a script that stopped there would report files
# ARCNM may yet reject). The benchmark times it against the action (test/bench/bench.ts, "many files").
#
# Usage: by-hand.sh <server-url> <api-key> <file>...
set -euo pipefail

server=$1
api_key=$2
shift 2

for file in "$@"; do
  name=$(basename "$file")
  case "${name##*.}" in
    step | stp) content_type=model/step ;;
    stl) content_type=model/stl ;;
    pdf) content_type=application/pdf ;;
    *) content_type=application/octet-stream ;;
  esac
  size=$(stat -c %s "$file")

  presign=$(curl -sS --fail-with-body -X POST "$server/api/v1/uploads/presign" \
    -H "X-API-Key: $api_key" \
    -H "Content-Type: application/json" \
    -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" \
    -d "$(jq -n --arg name "$name" --arg ct "$content_type" --argjson size "$size" '{name: $name, content_type: $ct, size_bytes: $size}')")
  url=$(echo "$presign" | jq -r '.url')
  data_source_id=$(echo "$presign" | jq -r '.data_source_id')
  headers=()
  while IFS= read -r header; do
    headers+=(-H "$header")
  done < <(echo "$presign" | jq -r '.headers // {} | to_entries[] | "\(.key): \(.value)"')

  curl -sS --fail-with-body -T "$file" "${headers[@]}" "$url" -o /dev/null

  curl -sS --fail-with-body -X POST "$server/api/v1/uploads/confirm" \
    -H "X-API-Key: $api_key" \
    -H "Content-Type: application/json" \
    -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" \
    -d "{\"data_source_id\": \"$data_source_id\"}" -o /dev/null

  until status=$(curl -sS --fail-with-body "$server/api/v1/uploads/?include_cancelled=true" -H "X-API-Key: $api_key" |
    jq -r --arg id "$data_source_id" '.[] | select(.id == $id) | .status') && [ "$status" != pending ]; do
    sleep 0.2
  done
  [ "$status" = confirmed ] || { echo "$file: ARCNM says $status" >&2; exit 1; }

  echo "$file: $data_source_id"
done
