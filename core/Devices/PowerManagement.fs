/// The ACPI fixed-hardware registers our FADT names (PM1a event and control blocks) and the reset register at
/// 0xCF9, as a pure model: writing SLP_TYP(S5) | SLP_EN powers the machine off, the reset value resets it.
module SsiHv.Core.Devices.PowerManagement

open SsiHv.Core.Acpi

type Pm =
    { Status: uint16
      Enable: uint16
      /// PM1_CNT without SLP_EN (write-only). SCI_EN reads as 1: SMI_CMD is 0, the machine is always in ACPI mode.
      Control: uint16 }

type Request =
    | PowerOff
    | Reset

let initial = { Status = 0us; Enable = 0us; Control = Facp.sciEnableBit }

let private sleepTypeMask = 0x7us <<< Facp.sleepTypeShift

/// A 16-bit write to PM1a_CNT; SLP_EN with the \_S5 sleep type requests power-off. Other sleep states are not
/// offered by our DSDT, so entering them is ignored rather than faked.
let writeControl (value: uint16) (pm: Pm) : Pm * Request option =
    let sleepType = (value &&& sleepTypeMask) >>> Facp.sleepTypeShift
    let next = { pm with Control = (value &&& ~~~Facp.sleepEnableBit) ||| Facp.sciEnableBit }
    if value &&& Facp.sleepEnableBit <> 0us && sleepType = uint16 Dsdt.s5SleepType then next, Some PowerOff
    else next, None

let readControl (pm: Pm) = pm.Control

/// PM1_STS bits are cleared by writing 1s (ACPI 6.5 §4.8.3.1.1).
let writeStatus (value: uint16) (pm: Pm) = { pm with Status = pm.Status &&& ~~~value }
let writeEnable (value: uint16) (pm: Pm) = { pm with Enable = value }

/// The reset register: only the FADT's RESET_VALUE resets; other writes (e.g. the 0x02 that precedes it on
/// real chipsets) do nothing.
let writeReset (value: byte) = if value = Facp.resetValue then Some Reset else None

/// The i8042 keyboard controller's pulse-reset command (0xFE to port 0x64), the legacy reboot path.
let i8042ResetCommand = 0xFEuy

/// The PM timer's value after `elapsedNanoseconds` of virtual time: 3.579545 MHz, wrapping at 32 bits. Whole
/// seconds and the remainder are scaled separately so the product never overflows 64 bits.
let pmTimerValue (elapsedNanoseconds: uint64) =
    let nanosecondsPerSecond = 1_000_000_000UL
    let seconds, remainder = elapsedNanoseconds / nanosecondsPerSecond, elapsedNanoseconds % nanosecondsPerSecond
    uint32 (seconds * Facp.pmTimerFrequencyHz + remainder * Facp.pmTimerFrequencyHz / nanosecondsPerSecond)
