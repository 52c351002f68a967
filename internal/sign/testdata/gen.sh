#!/usr/bin/env bash
# Regenerates the private-key fixtures with OpenSSL, the tool most keys
# come from. The password of every encrypted key is "correct horse".
set -euo pipefail
cd "$(dirname "$0")"
pass="pass:correct horse"
openssl ecparam -name prime256v1 -genkey -noout -out p256-sec1.pem
openssl pkcs8 -topk8 -nocrypt -in p256-sec1.pem -out p256-pkcs8.pem
openssl pkey -in p256-sec1.pem -pubout -out p256-pub.pem
# PKCS #8, PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC (openssl genpkey -aes256)
openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -passout "$pass" -in p256-sec1.pem -out p256-pbkdf2-aes256.pem
# PKCS #8, PBES2: PBKDF2-HMAC-SHA1 + AES-128-CBC (older defaults)
openssl pkcs8 -topk8 -v2 aes-128-cbc -v2prf hmacWithSHA1 -passout "$pass" -in p256-sec1.pem -out p256-pbkdf2sha1-aes128.pem
# PKCS #8, PBES2: scrypt + AES-256-CBC
openssl pkcs8 -topk8 -scrypt -passout "$pass" -in p256-sec1.pem -out p256-scrypt.pem
# Legacy OpenSSL PEM encryption (Proc-Type: 4,ENCRYPTED)
openssl ec -aes256 -passout "$pass" -in p256-sec1.pem -out p256-legacy-aes256.pem 2>/dev/null
openssl ecparam -name secp384r1 -genkey -noout -out p384-sec1.pem
openssl ecparam -name secp521r1 -genkey -noout -out p521-sec1.pem
openssl ecparam -name secp224r1 -genkey -noout -out p224-sec1.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null
openssl genpkey -algorithm ed25519 -out ed25519.pem
