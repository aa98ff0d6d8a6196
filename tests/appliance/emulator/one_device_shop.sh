# Runs inside the emulator image's root before the disk is made (image_build/emulator/build.sh --customize),
# as bash -e on stdin. It plays what a technician does on a one-device shop (docs/operations.md: the
# store server's init for a real shop, not --demo, and an enrolment token), then leaves what the boot test
# needs: the boot partition's kiosk-provision.toml, a second token's enrolment QR for the scanner path, and
# a root shell on the serial console (the test's only way in: the image has no network device).
set -euo pipefail
conf=/etc/store-server/server.toml
mkdir -p /etc/store-server
store-server --config "$conf" init --data-dir /var/lib/store-server --shop-name "Кав'ярня Зерно"
# The SMS gateway, as operations.md says (the server refuses to start without one): the USB GSM modem,
# which this board does not have.
printf '\n[[sms.gateways]]\ntype = "gsm_modem"\nport = "/dev/kiosk/modem"\n' >> "$conf"
chown -R store-server:store-server /var/lib/store-server
chgrp store-server "$conf" && chmod 640 "$conf"

token() {
    store-server --config "$conf" enrolment-token --role entrance --server-url http://127.0.0.1:8700
}
first=$(token | sed -n 's/^enrolment token: //p')
[ -n "$first" ]
cat > /boot/firmware/kiosk-provision.toml <<TOML
[kiosk]
server = "http://127.0.0.1:8700"
token = "$first"
role = "entrance"
TOML
token | sed -n 's/^enrolment QR payload: //p' > /root/enrol-qr.txt
[ -s /root/enrol-qr.txt ]
# The store server's files were made as root here; on the device `init` runs the same way (sudo).
chown -R store-server:store-server /var/lib/store-server

mkdir -p /etc/systemd/system/serial-getty@ttyAMA0.service.d
cat > /etc/systemd/system/serial-getty@ttyAMA0.service.d/autologin.conf <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200 %I vt220
UNIT
