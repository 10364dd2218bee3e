# Devices of the aarch64 build (see aarch64_flags in lib.sh): the machines
# that carry tpm-tis-device (virt) and tpm-tis-i2c (Aspeed BMCs, as in
# tests/qtest/tpm-tis-i2c-test.c), and the swtpm backend.
CONFIG_ARM_VIRT=y
CONFIG_ASPEED_SOC=y
CONFIG_A15MPCORE=y
CONFIG_TPM_TIS_SYSBUS=y
CONFIG_TPM_TIS_I2C=y
CONFIG_TPM_EMULATOR=y
