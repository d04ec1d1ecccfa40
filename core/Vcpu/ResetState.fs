/// The architectural state of an x86 CPU just out of RESET or INIT (SDM vol. 3, 10.1.4 "First Instruction
/// Executed"): CS selector F000 with base FFFF0000 and RIP FFF0, so the first fetch is at FFFFFFF0. A vCPU
/// found in it after a failure was reset by KVM (kvm-amd does so on a triple fault), not stopped where it failed.
module SsiHv.Core.Vcpu.ResetState

let resetRip = 0xFFF0UL
let resetCsSelector = 0xF000us
let resetCsBase = 0xFFFF0000UL

let isResetState (rip: uint64) (csSelector: uint16) (csBase: uint64) =
    rip = resetRip && csSelector = resetCsSelector && csBase = resetCsBase
