/// The Multiple APIC Description Table, signature "APIC" (ACPI 6.5 §5.2.12): the local APIC of every CPU, the
/// I/O APIC and how ISA IRQs reach it. Subtable types we do not model are kept raw, so any MADT parses.
module SsiHv.Core.Acpi.Madt

open System
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Acpi.Header
open SsiHv.Core.Memory
open SsiHv.Core.Topology

let signature = "APIC"

/// MADT Flags bit 0 (Table 5.20): dual 8259s are present. Linux masks them (KVM emulates them).
let pcatCompat = 1u
/// Local APIC / x2APIC Flags bit 0 (Table 5.23): the processor is usable.
let enabled = 1u
/// MPS INTI flags (Table 5.26): polarity in bits 0-1, trigger mode in bits 2-3; 0 = conforms to the bus.
let conformsToBus = 0us
let activeHighLevelTriggered = 0x1us ||| (0x3us <<< 2)
/// "All processors" in the Local APIC NMI (Table 5.29) and Local x2APIC NMI (Table 5.33) structures.
let allProcessors = 0xFFuy
let allX2Processors = 0xFFFFFFFFu
/// APIC IDs from here up need a Processor Local x2APIC structure (§5.2.12.12): 0xFF is the xAPIC broadcast ID.
let firstX2ApicId = 255

type LocalApic = { ProcessorUid: byte; ApicId: byte; Flags: uint32 }
type IoApic = { Id: byte; Address: uint32; GsiBase: uint32 }
type InterruptSourceOverride = { Bus: byte; Source: byte; Gsi: uint32; Flags: uint16 }
type LocalApicNmi = { ProcessorUid: byte; Flags: uint16; Lint: byte }
type LocalX2Apic = { X2ApicId: uint32; Flags: uint32; ProcessorUid: uint32 }
type LocalX2ApicNmi = { Flags: uint16; ProcessorUid: uint32; Lint: byte }

/// One Interrupt Controller Structure. `Other` keeps any type we do not model: its type and the bytes after
/// the 2-byte type/length prefix (at most 253 of them).
type Entry =
    | LocalApic of LocalApic
    | IoApic of IoApic
    | InterruptSourceOverride of InterruptSourceOverride
    | LocalApicNmi of LocalApicNmi
    | LocalX2Apic of LocalX2Apic
    | LocalX2ApicNmi of LocalX2ApicNmi
    | Other of kind: byte * body: byte[]

type Madt = { Header: Header; LocalApicAddress: uint32; Flags: uint32; Entries: Entry list }

// Type codes and fixed lengths (ACPI 6.5 Table 5.21 and the structure tables after it).
let private localApicType = 0uy
let private localApicLength = 8
let private ioApicType = 1uy
let private ioApicLength = 12
let private overrideType = 2uy
let private overrideLength = 10
let private localApicNmiType = 4uy
let private localApicNmiLength = 6
let private localX2ApicType = 9uy
let private localX2ApicLength = 16
let private localX2ApicNmiType = 10uy
let private localX2ApicNmiLength = 12

let private serializeEntry (entry: Entry) =
    let prefix (kind: byte) (length: int) = [| kind; byte length |]
    match entry with
    | LocalApic e -> Array.concat [ prefix localApicType localApicLength; u8 e.ProcessorUid; u8 e.ApicId; u32 e.Flags ]
    | IoApic e -> Array.concat [ prefix ioApicType ioApicLength; u8 e.Id; u8 0uy; u32 e.Address; u32 e.GsiBase ]
    | InterruptSourceOverride e ->
        Array.concat [ prefix overrideType overrideLength; u8 e.Bus; u8 e.Source; u32 e.Gsi; u16 e.Flags ]
    | LocalApicNmi e -> Array.concat [ prefix localApicNmiType localApicNmiLength; u8 e.ProcessorUid; u16 e.Flags; u8 e.Lint ]
    | LocalX2Apic e ->
        Array.concat [ prefix localX2ApicType localX2ApicLength; zeros 2; u32 e.X2ApicId; u32 e.Flags; u32 e.ProcessorUid ]
    | LocalX2ApicNmi e ->
        Array.concat [ prefix localX2ApicNmiType localX2ApicNmiLength; u16 e.Flags; u32 e.ProcessorUid; u8 e.Lint; zeros 3 ]
    | Other (kind, body) -> Array.append (prefix kind (body.Length + 2)) body

let serialize (m: Madt) =
    Header.serialize m.Header (Array.concat ([ u32 m.LocalApicAddress; u32 m.Flags ] @ List.map serializeEntry m.Entries))

/// Parses one structure found at `offset` of the table; `body` is the structure including its prefix.
let private parseEntry (kind: byte, offset: int, body: byte[]) : Result<Entry, AcpiError> =
    let expectLength length (parseFixed: unit -> Result<Entry, AcpiError>) =
        if body.Length <> length then
            fail signature offset (String.Format("interrupt controller structure type {0} must be {1} bytes, this one is {2}", kind, length, body.Length))
        else parseFixed ()
    // Reads relative to the structure, reporting errors at the table offset.
    let at read (relative: int) = read signature body relative |> Result.mapError (fun e -> { e with Offset = offset + relative })
    if kind = localApicType then
        expectLength localApicLength (fun () ->
            result {
                let! uid = at readU8 2
                let! apicId = at readU8 3
                let! flags = at readU32 4
                return LocalApic { ProcessorUid = uid; ApicId = apicId; Flags = flags }
            })
    elif kind = ioApicType then
        expectLength ioApicLength (fun () ->
            result {
                let! id = at readU8 2
                let! address = at readU32 4
                let! gsiBase = at readU32 8
                return IoApic { Id = id; Address = address; GsiBase = gsiBase }
            })
    elif kind = overrideType then
        expectLength overrideLength (fun () ->
            result {
                let! bus = at readU8 2
                let! source = at readU8 3
                let! gsi = at readU32 4
                let! flags = at readU16 8
                return InterruptSourceOverride { Bus = bus; Source = source; Gsi = gsi; Flags = flags }
            })
    elif kind = localApicNmiType then
        expectLength localApicNmiLength (fun () ->
            result {
                let! uid = at readU8 2
                let! flags = at readU16 3
                let! lint = at readU8 5
                return LocalApicNmi { ProcessorUid = uid; Flags = flags; Lint = lint }
            })
    elif kind = localX2ApicType then
        expectLength localX2ApicLength (fun () ->
            result {
                let! x2ApicId = at readU32 4
                let! flags = at readU32 8
                let! uid = at readU32 12
                return LocalX2Apic { X2ApicId = x2ApicId; Flags = flags; ProcessorUid = uid }
            })
    elif kind = localX2ApicNmiType then
        expectLength localX2ApicNmiLength (fun () ->
            result {
                let! flags = at readU16 2
                let! uid = at readU32 4
                let! lint = at readU8 8
                return LocalX2ApicNmi { Flags = flags; ProcessorUid = uid; Lint = lint }
            })
    else Ok(Other(kind, Array.sub body 2 (body.Length - 2)))

/// Offset of the first interrupt controller structure: header, Local Interrupt Controller Address, Flags.
let private entriesOffset = Header.size + 8

let parse (bytes: byte[]) : Result<Madt, AcpiError> =
    result {
        let! header, _ = Header.parse signature bytes
        let! localApicAddress = readU32 signature bytes Header.size
        let! flags = readU32 signature bytes (Header.size + 4)
        let! structures =
            splitSubtables signature bytes entriesOffset 2 (fun offset -> readU8 signature bytes (offset + 1) |> Result.map int)
        let! entries = traverse parseEntry structures
        return { Header = header; LocalApicAddress = localApicAddress; Flags = flags; Entries = entries }
    }

/// Our MADT, revision 5 (the revision that defines the Online Capable flag, ACPI 6.3+; iasl 20200925 decodes it
/// without remark), laid out like QEMU's pc machine:
/// - one enabled Local APIC per CPU with APIC ID = ACPI processor UID = CPU index (docs/design.md §4.2), and a
///   Local x2APIC for CPUs whose APIC ID is 255 or more, which an 8-bit field cannot hold;
/// - the I/O APIC with ID 0 at its standard address, GSIs from 0. I/O APIC IDs live in their own namespace
///   on x86-64 (Linux only checks them against other I/O APICs), so ID 0 beside CPU 0 is what QEMU does too;
/// - ISA IRQ 0 (PIT) arrives on GSI 2, as on every PC; IRQ 9 (the SCI, `Facp.sciInterrupt`) is level-triggered
///   active-high, as the VMM raises it;
/// - LINT1 of every local APIC is the NMI input.
let ofTopology (t: Topology) : Madt =
    let cpus = List.init (Topology.totalCpus t) id
    let processors =
        cpus
        |> List.map (fun cpu ->
            if cpu < firstX2ApicId then LocalApic { ProcessorUid = byte cpu; ApicId = byte cpu; Flags = enabled }
            else LocalX2Apic { X2ApicId = uint32 cpu; Flags = enabled; ProcessorUid = uint32 cpu })
    let x2ApicNmi =
        if List.length cpus > firstX2ApicId then
            [ LocalX2ApicNmi { Flags = conformsToBus; ProcessorUid = allX2Processors; Lint = 1uy } ]
        else []
    { Header = Header.ours signature 5uy
      LocalApicAddress = uint32 Layout.localApicAddress
      Flags = pcatCompat
      Entries =
        processors
        @ [ IoApic { Id = 0uy; Address = uint32 Layout.ioApicAddress; GsiBase = 0u }
            InterruptSourceOverride { Bus = 0uy; Source = 0uy; Gsi = 2u; Flags = conformsToBus }
            InterruptSourceOverride { Bus = 0uy; Source = 9uy; Gsi = 9u; Flags = activeHighLevelTriggered }
            LocalApicNmi { ProcessorUid = allProcessors; Flags = conformsToBus; Lint = 1uy } ]
        @ x2ApicNmi }
