# Asterisk 22 from Debian unstable, the same packages the sandbox uses.
FROM debian:sid-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends asterisk asterisk-modules asterisk-config \
      asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm \
 && rm -rf /var/lib/apt/lists/*
CMD ["/usr/sbin/asterisk", "-f", "-n"]
