#!/usr/bin/env bash
# Run by mail-sandbox: sends one message to the sandbox mailbox and reads it back.
set -euo pipefail
bin="${CARGO_TARGET_DIR:-target}/debug/email-connector"
conn="$SANDBOX_CONNECTION"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== check" >&2
"$bin" --log-level warn check --connection "$conn"

cat > "$work/message.json" <<JSON
{
  "from": "Demo Sender <$SANDBOX_PEER>",
  "to": ["Sandbox User <$SANDBOX_USER>"],
  "subject": "Hello from the email connector ✉",
  "text": "This message went through Postfix and Dovecot on this machine.",
  "html": "<p>This message went through <b>Postfix</b> and <b>Dovecot</b> on this machine.</p>",
  "attachments": [{"filename": "hello.txt", "content_base64": "aGVsbG8sIHdvcmxkCg=="}],
  "headers": {"X-Demo": "round-trip"}
}
JSON
echo "== send" >&2
"$bin" --log-level warn run send --connection "$conn" --input "$work/message.json"

# Delivery through Postfix and LMTP takes a few milliseconds; wait for it.
for _ in $(seq 50); do
  out=$("$bin" --log-level warn run read --connection "$conn" --config <(echo '{"after_read": "none"}'))
  [ -n "$out" ] && break
  sleep 0.1
done
echo "== read (one JSON record per message)" >&2
"$bin" --log-level warn run read --connection "$conn"
