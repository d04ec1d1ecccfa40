/// The Differentiated System Description Table (ACPI 6.5 §5.2.11.1): the header and an AML term list.
/// Ours declares the S5 (soft-off) sleep type and the COM1 UART; the guest finds no other device through ACPI.
module SsiHv.Core.Acpi.Dsdt

open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Acpi.Header
open SsiHv.Core.Acpi.Aml

let signature = "DSDT"

type Dsdt = { Header: Header; Terms: Term list }

/// SLP_TYP for S5. Any 3-bit value works as long as the VMM's PM1a control port agrees: writing
/// `s5SleepType <<< Facp.sleepTypeShift ||| Facp.sleepEnableBit` to it powers the machine off.
let s5SleepType = 5uy

let com1Port = 0x3F8us
let com1Irq = 4

/// Revision 2 makes AML integers 64-bit (§5.2.11.1).
let ours =
    { Header = Header.ours signature 2uy
      Terms =
        [ // \_S5 (§7.4.2): SLP_TYPa, SLP_TYPb, then two reserved elements.
          Name(path "\\_S5", Package [ Integer(uint64 s5SleepType); Integer(uint64 s5SleepType); Integer 0UL; Integer 0UL ])
          Scope(
              path "\\_SB",
              [ Device(
                    path "COM1",
                    [ Name(path "_HID", eisaId "PNP0501") // 16550A-compatible UART
                      Name(path "_UID", Integer 1UL)
                      Name(path "_STA", Integer 0x0FUL) // present, enabled, shown, functioning
                      Name(
                          path "_CRS",
                          ResourceTemplate.ofDescriptors
                              [ ResourceTemplate.io16 com1Port com1Port 0uy 8uy; ResourceTemplate.irqNoFlags [ com1Irq ] ]
                      ) ]
                ) ]
          ) ] }

let serialize (d: Dsdt) = Header.serialize d.Header (encodeTerms d.Terms)

let parse (bytes: byte[]) : Result<Dsdt, AcpiError> =
    Header.parse signature bytes |> Result.map (fun (header, body) -> { Header = header; Terms = decodeTerms body })

/// SLP_TYPa from `\_S5` (the first package element), if the DSDT declares it as a Name we can read and the
/// value fits the 3-bit SLP_TYPx field of PM1_CNT (§4.8.3.2.1).
let findS5 (d: Dsdt) : byte option =
    // Resolves a declaration's NameString against the scope it appears in (§5.3: declarations do not search).
    let absolute (scope: string list) (name: NameString) =
        match name.Anchor with
        | Root -> Some name.Segments
        | Relative -> Some(scope @ name.Segments)
        | Parents levels when levels <= scope.Length -> Some(List.take (scope.Length - levels) scope @ name.Segments)
        | Parents _ -> None
    let rec search scope terms =
        terms
        |> List.tryPick (fun term ->
            match term with
            | Name (name, Package (Integer slpTyp :: _)) when absolute scope name = Some [ "_S5_" ] && slpTyp <= 7UL ->
                Some(byte slpTyp)
            | Scope (name, inner)
            | Device (name, inner) -> absolute scope name |> Option.bind (fun s -> search s inner)
            | _ -> None)
    search [] d.Terms
