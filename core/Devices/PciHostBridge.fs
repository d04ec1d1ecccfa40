/// PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2) with one device: a host bridge at 00:00.0.
/// Linux's type-1 probe writes 0x80000000 to CONFIG_ADDRESS, expects to read it back, then looks on bus 0 for
/// a host bridge; without one it logs "PCI: Fatal: No config space access function found" and "PCI: System
/// does not support PCI". The VM has no PCI devices, so the bridge is all there is: every other function reads
/// as absent (all ones) and configuration writes change nothing.
module SsiHv.Core.Devices.PciHostBridge

/// CONFIG_ADDRESS (a dword at 0xCF8; 0xCF9 is the reset register) and CONFIG_DATA (0xCFC-0xCFF).
let addressPort, dataPort, dataPortCount = 0xCF8us, 0xCFCus, 4us

let private enableBit = 0x8000_0000u

/// Vendor 1B36 (Red Hat, the ID virtual machines' generic devices use), device 0008 ("PCIe host bridge"), class
/// 06/00/00 (bridge, host), header type 0, single function. No BARs, no capabilities.
let private header =
    [| 0x36uy; 0x1Buy; 0x08uy; 0x00uy   // vendor, device
       0x00uy; 0x00uy; 0x00uy; 0x00uy   // command, status
       0x00uy; 0x00uy; 0x00uy; 0x06uy   // revision, programming interface, subclass, class
       0x00uy; 0x00uy; 0x00uy; 0x00uy |] // cache line, latency timer, header type 0, BIST

let private allOnes length = if length >= 4 then 0xFFFF_FFFFu else (1u <<< (8 * length)) - 1u

/// What a read of `length` bytes (1, 2 or 4) at `offset` (0-3) into CONFIG_DATA returns, CONFIG_ADDRESS being
/// `address`: the host bridge's header bytes (0 past its first 16 bytes) or all ones for anything else.
let readData (address: uint32) (offset: int) (length: int) : uint32 =
    let bus, device, fn = (address >>> 16) &&& 0xFFu, (address >>> 11) &&& 0x1Fu, (address >>> 8) &&& 0x7u
    if address &&& enableBit = 0u || bus <> 0u || device <> 0u || fn <> 0u then allOnes length
    else
        let start = int (address &&& 0xFCu) + offset
        // List.init rather than Seq.init: FSharp.Core's Seq.init caches through System.Lazy in a way the native AOT
        // trimmer rejects (IL2091).
        List.init length (fun i -> if start + i < header.Length then uint32 header.[start + i] <<< (8 * i) else 0u)
        |> List.fold (|||) 0u

/// CONFIG_ADDRESS keeps what a dword write stores, with the reserved bits 30:24 and 1:0 reading as 0.
let writeAddress (value: uint32) = value &&& 0x80FF_FFFCu

/// CONFIG_ADDRESS is a dword register: a narrower read of port 0xCF8 sees nothing there (all ones)...
let readAddress (address: uint32) (length: int) = if length = 4 then address else allOnes length

/// ...and a narrower write leaves it as it was.
let afterAddressWrite (address: uint32) (value: uint32) (length: int) = if length = 4 then writeAddress value else address
