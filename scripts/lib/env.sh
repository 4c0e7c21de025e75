# Sourced by every script: where things are and the environment the emulator suite needs.
# Kept in one place so setup, dev, test and CI agree.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT
LOCAL_DIR="$ROOT/.local"          # everything set-up builds that is not a venv (ignored by git)
DEV_VENV="$ROOT/.venv"
CODEBASES=(api triggers jobs webhooks insights)
PYTHON_BIN="${PYTHON:-python3.11}"
command -v "$PYTHON_BIN" >/dev/null 2>&1 || PYTHON_BIN=python3

GCLOUD_PLATFORM="${GCLOUD_PLATFORM:-/usr/lib/google-cloud-sdk/platform}"
FIRESTORE_EMULATOR_JAR="$GCLOUD_PLATFORM/cloud-firestore-emulator/cloud-firestore-emulator.jar"
FIRESTORE_LAUNCHER_JAR="$LOCAL_DIR/firestore-emulator-launcher.jar"
PUBSUB_EMULATOR_BIN="$GCLOUD_PLATFORM/pubsub-emulator/bin/cloud-pubsub-emulator"

# Offline and quiet: no update checks, no metadata-server probing.
export CI="${CI:-true}"
export METADATA_SERVER_DETECTION=none
export NO_GCE_CHECK=True
export FIRESTORE_EMULATOR_BINARY_PATH="$FIRESTORE_LAUNCHER_JAR"
export PUBSUB_EMULATOR_BINARY_PATH="$PUBSUB_EMULATOR_BIN"

# java_major <java binary>: prints the major version (17, 21, 25 ...) or nothing.
java_major() {
  "$1" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -n 1
}

# find_java_home: the first JDK with Java 21+ (firebase-tools refuses older), preferring JAVA_HOME.
find_java_home() {
  local candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    major="$(java_major "$candidate/bin/java")"
    if [ -n "$major" ] && [ "$major" -ge 21 ] && [ -x "$candidate/bin/jar" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

use_java() {
  local home
  if ! home="$(find_java_home)"; then
    echo "error: no Java 21+ JDK found (looked at \$JAVA_HOME and /usr/lib/jvm/*)." >&2
    echo "       firebase-tools refuses older Java; install a JDK 21+ and set JAVA_HOME." >&2
    return 1
  fi
  export JAVA_HOME="$home"
  export PATH="$JAVA_HOME/bin:$ROOT/node_modules/.bin:$PATH"
}
