/// The Fixed ACPI Description Table, signature "FACP" (ACPI 6.5 §5.2.9, Table 5.9). We write revision 6
/// (276 bytes). The parser reads every revision from 1 (116 bytes) up: a field beyond the table's length reads
/// as 0, which the specification itself treats as "not present". Fields outside the model are written as 0.
module SsiHv.Core.Acpi.Facp

open System
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Acpi.Header

let signature = "FACP"
/// Length of a revision 6 FADT, the one we write.
let size = 276
/// Length of an ACPI 1.0 (revision 1) FADT: everything up to and including Flags.
let minimumSize = 116

// The I/O ports our VMM decodes. The shell's PM and reset devices use these same values.

/// PM1a event block: PM1_STS (2 bytes) then PM1_EN (2 bytes), ACPI 6.5 §4.8.3.1.
let pm1aEventPort = 0x600us
let pm1EventLength = 4uy
/// PM1a control block, ACPI 6.5 §4.8.3.2.1 (Table 4.13).
let pm1aControlPort = 0x604us
let pm1ControlLength = 2uy
/// PM1_CNT.SLP_EN (bit 13): writing it with SLP_TYPx enters the sleep state SLP_TYPx names.
let sleepEnableBit = 1us <<< 13
/// PM1_CNT.SLP_TYPx occupies bits 10..12.
let sleepTypeShift = 10
/// PM1_CNT.SCI_EN (bit 0): reads as 1 because the machine is always in ACPI mode (SMI_CMD is 0).
let sciEnableBit = 1us
/// The ACPI PM timer (§4.8.3.3): a free-running counter at 3.579545 MHz, 32 bits wide (TMR_VAL_EXT). Guests
/// (Linux, the probe) calibrate delays with it; without one the probe guest could only spin blindly.
let pmTimerPort = 0x608us
let pmTimerLength = 4uy
let pmTimerFrequencyHz = 3579545UL
/// The PCI reset control register (port 0xCF9) every PC chipset has; 0x06 = full reset + reset CPU.
let resetPort = 0xCF9us
let resetValue = 0x06uy
/// The SCI is ISA IRQ 9, routed level/active-high by the MADT's interrupt source override.
let sciInterrupt = 9us

/// Generic Address Structure (ACPI 6.5 §5.2.3.2, Table 5.1).
type GenericAddress =
    { AddressSpace: byte
      BitWidth: byte
      BitOffset: byte
      AccessSize: byte
      Address: uint64 }

module GenericAddress =
    let size = 12
    let systemIo = 1uy
    /// Access size codes: 1 byte, 2 word, 3 dword, 4 qword (0 = undefined, for legacy reasons).
    let byteAccess = 1uy
    let wordAccess = 2uy
    let dwordAccess = 3uy
    let none = { AddressSpace = 0uy; BitWidth = 0uy; BitOffset = 0uy; AccessSize = 0uy; Address = 0UL }

    /// A register of `lengthBytes` bytes at I/O `port`, accessed `accessSize` at a time.
    let ioPort (port: uint16) (lengthBytes: byte) (accessSize: byte) =
        { AddressSpace = systemIo; BitWidth = 8uy * lengthBytes; BitOffset = 0uy; AccessSize = accessSize; Address = uint64 port }

    let serialize (g: GenericAddress) =
        Array.concat [ u8 g.AddressSpace; u8 g.BitWidth; u8 g.BitOffset; u8 g.AccessSize; u64 g.Address ]

    let parse table (bytes: byte[]) offset =
        result {
            let! addressSpace = readU8 table bytes offset
            let! bitWidth = readU8 table bytes (offset + 1)
            let! bitOffset = readU8 table bytes (offset + 2)
            let! accessSize = readU8 table bytes (offset + 3)
            let! address = readU64 table bytes (offset + 4)
            return { AddressSpace = addressSpace; BitWidth = bitWidth; BitOffset = bitOffset; AccessSize = accessSize; Address = address }
        }

/// FADT Flags (ACPI 6.5 Table 5.10) we use.
module Flags =
    /// WBINVD flushes caches correctly (always true for a virtual CPU; required on IA-PC).
    let wbinvd = 1u <<< 0
    /// HLT (C1) works on every processor.
    let procC1 = 1u <<< 2
    /// Set: the power button is a control-method device, or absent (ours: absent). Clear: fixed-feature button.
    let powerButton = 1u <<< 4
    /// Set: the sleep button is a control-method device, or absent (ours: absent).
    let sleepButton = 1u <<< 5
    /// Set: RTC wake status is not in the fixed register space (we emulate no RTC alarm wake).
    let fixedRtc = 1u <<< 6
    /// The PM timer counts in 32 bits (clear: 24 bits).
    let timerValueExtended = 1u <<< 8
    /// RESET_REG / RESET_VALUE are valid.
    let resetRegisterSupported = 1u <<< 10
    let hardwareReduced = 1u <<< 20

/// IA-PC boot architecture flags (ACPI 6.5 §5.2.9.3, Table 5.11).
module BootArchitecture =
    /// Legacy devices (the COM1 UART) exist on the LPC/ISA side.
    let legacyDevices = 1us <<< 0
    /// An 8042 keyboard controller exists. Ours leaves it clear: the VMM's i8042 only takes the pulse-reset
    /// command, and Linux probes an announced controller and logs "i8042: probe of i8042 failed with error -5".
    let keyboardController8042 = 1us <<< 1
    /// No CMOS real-time clock. Linux then registers no rtc_cmos device (which logs "broken or not accessible"
    /// on a machine without one) and takes the wall-clock time from kvm-clock.
    let noCmosRtc = 1us <<< 5

/// The FADT fields SSI-HV writes or inspects. 32-bit fields and their 64-bit X_ twins are kept separately
/// because both exist in foreign tables; ours sets only the X_ twin of FIRMWARE_CTRL and DSDT (see `ours`).
type Fadt =
    { Header: Header
      FirmwareControl: uint32
      Dsdt: uint32
      PreferredPmProfile: byte
      SciInterrupt: uint16
      SmiCommand: uint32
      AcpiEnable: byte
      AcpiDisable: byte
      Pm1aEventBlock: uint32
      Pm1bEventBlock: uint32
      Pm1aControlBlock: uint32
      Pm1bControlBlock: uint32
      PmTimerBlock: uint32
      Gpe0Block: uint32
      Pm1EventLength: byte
      Pm1ControlLength: byte
      PmTimerLength: byte
      Gpe0BlockLength: byte
      /// Worst-case C2/C3 latencies in µs; above 100 / 1000 they mean "C2 / C3 not supported".
      C2Latency: uint16
      C3Latency: uint16
      Century: byte
      BootArchitecture: uint16
      Flags: uint32
      ResetRegister: GenericAddress
      ResetValue: byte
      MinorVersion: byte
      XFirmwareControl: uint64
      XDsdt: uint64
      XPm1aEventBlock: GenericAddress
      XPm1bEventBlock: GenericAddress
      XPm1aControlBlock: GenericAddress
      XPm1bControlBlock: GenericAddress
      XPmTimerBlock: GenericAddress
      XGpe0Block: GenericAddress
      SleepControlRegister: GenericAddress
      SleepStatusRegister: GenericAddress
      HypervisorVendorIdentity: uint64 }

/// "SSIHV" as the 8-byte hypervisor vendor identity (§5.2.9: no version information in this field).
let hypervisorVendorIdentity = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(System.ReadOnlySpan(text 8 "SSIHV"))

/// Our FADT, revision 6.5 (revision 6, minor version 5).
/// - FACS and DSDT only through X_FIRMWARE_CTRL and X_DSDT: §5.2.9 says X_FIRMWARE_CTRL must be zero when
///   FIRMWARE_CTRL is not, and an OS ignores DSDT when X_DSDT is usable, so the 32-bit fields stay 0 rather
///   than risk two disagreeing values.
/// - SMI_CMD 0: there is no SMM, the machine is always in ACPI mode (ACPI_ENABLE/ACPI_DISABLE unused).
/// - PM1a event and control blocks on I/O ports, each given both as the 32-bit port and as the X_ GAS with the
///   same address and width; no PM1b, no GPE blocks (no device raises a GPE); a 32-bit PM timer at 0x608 so
///   guests can time delays (the probe guest's INIT/SIPI spacing, Linux's TSC calibration).
/// - Flags: WBINVD and PROC_C1 (true of any virtual CPU); PWR_BUTTON and SLP_BUTTON set because the VMM has
///   no fixed-feature buttons (a guest powers itself off through PM1a_CNT); FIX_RTC since no RTC alarm
///   can wake it; RESET_REG_SUP for the 0xCF9 reset register.
/// - C2/C3 latencies above their limits: the virtual CPUs have no C2/C3 states.
let ours (facsAddress: uint64) (dsdtAddress: uint64) =
    { Header = Header.ours signature 6uy
      FirmwareControl = 0u
      Dsdt = 0u
      PreferredPmProfile = 0uy
      SciInterrupt = sciInterrupt
      SmiCommand = 0u
      AcpiEnable = 0uy
      AcpiDisable = 0uy
      Pm1aEventBlock = uint32 pm1aEventPort
      Pm1bEventBlock = 0u
      Pm1aControlBlock = uint32 pm1aControlPort
      Pm1bControlBlock = 0u
      PmTimerBlock = uint32 pmTimerPort
      Gpe0Block = 0u
      Pm1EventLength = pm1EventLength
      Pm1ControlLength = pm1ControlLength
      PmTimerLength = pmTimerLength
      Gpe0BlockLength = 0uy
      C2Latency = 101us
      C3Latency = 1001us
      Century = 0uy
      BootArchitecture = BootArchitecture.legacyDevices ||| BootArchitecture.noCmosRtc
      Flags = Flags.wbinvd ||| Flags.procC1 ||| Flags.powerButton ||| Flags.sleepButton ||| Flags.fixedRtc ||| Flags.timerValueExtended ||| Flags.resetRegisterSupported
      ResetRegister = GenericAddress.ioPort resetPort 1uy GenericAddress.byteAccess
      ResetValue = resetValue
      MinorVersion = 5uy
      XFirmwareControl = facsAddress
      XDsdt = dsdtAddress
      // PM1 status/enable and control registers are 16 bits wide (§4.8.3.1-2), hence word accesses.
      XPm1aEventBlock = GenericAddress.ioPort pm1aEventPort pm1EventLength GenericAddress.wordAccess
      XPm1bEventBlock = GenericAddress.none
      XPm1aControlBlock = GenericAddress.ioPort pm1aControlPort pm1ControlLength GenericAddress.wordAccess
      XPm1bControlBlock = GenericAddress.none
      XPmTimerBlock = GenericAddress.ioPort pmTimerPort pmTimerLength GenericAddress.dwordAccess
      XGpe0Block = GenericAddress.none
      SleepControlRegister = GenericAddress.none
      SleepStatusRegister = GenericAddress.none
      HypervisorVendorIdentity = hypervisorVendorIdentity }

let serialize (f: Fadt) : byte[] =
    let gas = GenericAddress.serialize
    Header.serialize f.Header (
        Array.concat
            [ u32 f.FirmwareControl; u32 f.Dsdt; u8 0uy; u8 f.PreferredPmProfile; u16 f.SciInterrupt; u32 f.SmiCommand
              u8 f.AcpiEnable; u8 f.AcpiDisable; u8 0uy (* S4BIOS_REQ *); u8 0uy (* PSTATE_CNT *)
              u32 f.Pm1aEventBlock; u32 f.Pm1bEventBlock; u32 f.Pm1aControlBlock; u32 f.Pm1bControlBlock
              u32 0u (* PM2_CNT_BLK *); u32 f.PmTimerBlock; u32 f.Gpe0Block; u32 0u (* GPE1_BLK *)
              u8 f.Pm1EventLength; u8 f.Pm1ControlLength; u8 0uy (* PM2_CNT_LEN *); u8 f.PmTimerLength
              u8 f.Gpe0BlockLength; u8 0uy (* GPE1_BLK_LEN *); u8 0uy (* GPE1_BASE *); u8 0uy (* CST_CNT *)
              u16 f.C2Latency; u16 f.C3Latency; u16 0us (* FLUSH_SIZE *); u16 0us (* FLUSH_STRIDE *)
              u8 0uy (* DUTY_OFFSET *); u8 0uy (* DUTY_WIDTH *); u8 0uy (* DAY_ALRM *); u8 0uy (* MON_ALRM *)
              u8 f.Century; u16 f.BootArchitecture; u8 0uy; u32 f.Flags
              gas f.ResetRegister; u8 f.ResetValue; u16 0us (* ARM_BOOT_ARCH *); u8 f.MinorVersion
              u64 f.XFirmwareControl; u64 f.XDsdt
              gas f.XPm1aEventBlock; gas f.XPm1bEventBlock; gas f.XPm1aControlBlock; gas f.XPm1bControlBlock
              gas GenericAddress.none (* X_PM2_CNT_BLK *); gas f.XPmTimerBlock; gas f.XGpe0Block
              gas GenericAddress.none (* X_GPE1_BLK *); gas f.SleepControlRegister; gas f.SleepStatusRegister
              u64 f.HypervisorVendorIdentity ])

let parse (bytes: byte[]) : Result<Fadt, AcpiError> =
    result {
        let! header, _ = Header.parse signature bytes
        if bytes.Length < minimumSize then
            return! fail signature 4 (String.Format("a FADT is at least {0} bytes (revision 1), this one has {1}", minimumSize, bytes.Length))
        else
            // Later revisions only ever appended fields, so a field the table is too short for is absent: 0.
            let present offset width = offset + width <= bytes.Length
            let optional read width zero offset = if present offset width then read signature bytes offset else Ok zero
            let byteAt = optional readU8 1 0uy
            let wordAt = optional readU16 2 0us
            let dwordAt = optional readU32 4 0u
            let qwordAt = optional readU64 8 0UL
            let gasAt = optional GenericAddress.parse GenericAddress.size GenericAddress.none
            let! firmwareControl = dwordAt 36
            let! dsdt = dwordAt 40
            let! preferredPmProfile = byteAt 45
            let! sciInterrupt = wordAt 46
            let! smiCommand = dwordAt 48
            let! acpiEnable = byteAt 52
            let! acpiDisable = byteAt 53
            let! pm1aEventBlock = dwordAt 56
            let! pm1bEventBlock = dwordAt 60
            let! pm1aControlBlock = dwordAt 64
            let! pm1bControlBlock = dwordAt 68
            let! pmTimerBlock = dwordAt 76
            let! gpe0Block = dwordAt 80
            let! pm1EventLength = byteAt 88
            let! pm1ControlLength = byteAt 89
            let! pmTimerLength = byteAt 91
            let! gpe0BlockLength = byteAt 92
            let! c2Latency = wordAt 96
            let! c3Latency = wordAt 98
            let! century = byteAt 108
            let! bootArchitecture = wordAt 109
            let! flags = dwordAt 112
            let! resetRegister = gasAt 116
            let! resetValue = byteAt 128
            let! minorVersion = byteAt 131
            let! xFirmwareControl = qwordAt 132
            let! xDsdt = qwordAt 140
            let! xPm1aEventBlock = gasAt 148
            let! xPm1bEventBlock = gasAt 160
            let! xPm1aControlBlock = gasAt 172
            let! xPm1bControlBlock = gasAt 184
            let! xPmTimerBlock = gasAt 208
            let! xGpe0Block = gasAt 220
            let! sleepControlRegister = gasAt 244
            let! sleepStatusRegister = gasAt 256
            let! hypervisorVendorIdentity = qwordAt 268
            return
                { Header = header; FirmwareControl = firmwareControl; Dsdt = dsdt; PreferredPmProfile = preferredPmProfile
                  SciInterrupt = sciInterrupt; SmiCommand = smiCommand; AcpiEnable = acpiEnable; AcpiDisable = acpiDisable
                  Pm1aEventBlock = pm1aEventBlock; Pm1bEventBlock = pm1bEventBlock; Pm1aControlBlock = pm1aControlBlock
                  Pm1bControlBlock = pm1bControlBlock; PmTimerBlock = pmTimerBlock; Gpe0Block = gpe0Block
                  Pm1EventLength = pm1EventLength; Pm1ControlLength = pm1ControlLength; PmTimerLength = pmTimerLength
                  Gpe0BlockLength = gpe0BlockLength; C2Latency = c2Latency; C3Latency = c3Latency; Century = century
                  BootArchitecture = bootArchitecture; Flags = flags; ResetRegister = resetRegister; ResetValue = resetValue
                  MinorVersion = minorVersion; XFirmwareControl = xFirmwareControl; XDsdt = xDsdt
                  XPm1aEventBlock = xPm1aEventBlock; XPm1bEventBlock = xPm1bEventBlock; XPm1aControlBlock = xPm1aControlBlock
                  XPm1bControlBlock = xPm1bControlBlock; XPmTimerBlock = xPmTimerBlock; XGpe0Block = xGpe0Block
                  SleepControlRegister = sleepControlRegister; SleepStatusRegister = sleepStatusRegister
                  HypervisorVendorIdentity = hypervisorVendorIdentity }
    }

/// The DSDT address an OS uses: X_DSDT when set, else DSDT (§5.2.9).
let dsdtAddress (f: Fadt) = if f.XDsdt <> 0UL then f.XDsdt else uint64 f.Dsdt

/// The FACS address an OS uses: X_FIRMWARE_CTRL when set, else FIRMWARE_CTRL (§5.2.9).
let facsAddress (f: Fadt) = if f.XFirmwareControl <> 0UL then f.XFirmwareControl else uint64 f.FirmwareControl
