/// Cross-table rules a decoded set must satisfy for Linux to build the NUMA machine it describes. Each finding
/// names the table and the entry; an empty list means the set is consistent.
module SsiHv.Core.Acpi.Consistency

open System
open SsiHv.Core.Acpi.TableSet
open SsiHv.Core.Numa

type Finding = { Table: string; Message: string }

let private finding table message = { Table = table; Message = message }

let private slitFindings (d: DecodedTables) =
    match d.Slit with
    | None -> []
    | Some slit ->
        let n = List.length slit.Distances
        let entries =
            slit.Distances
            |> List.indexed
            |> List.collect (fun (i, row) ->
                row |> List.indexed |> List.choose (fun (j, v) ->
                    if Distances.isValidEntry i j (int64 v) then None
                    elif i = j then Some(finding "SLIT" (String.Format("entry [{0}][{1}] is {2}; a locality's distance to itself must be 10", i, j, v)))
                    else Some(finding "SLIT" (String.Format("entry [{0}][{1}] is {2}; remote distances must be 11..254 or 255 (Linux rejects the whole SLIT otherwise)", i, j, v)))))
        let domains =
            d.Srat |> Option.map (fun s -> s.Entries |> List.choose (Srat.linuxDomain s.Header.Revision)) |> Option.defaultValue []
        let uncovered =
            domains |> List.distinct |> List.filter (fun domain -> domain >= uint32 n)
            |> List.map (fun domain -> finding "SLIT" (String.Format("has {0} localities but SRAT uses proximity domain {1}", n, domain)))
        entries @ uncovered

let private sratFindings (view: NumaView.NumaView) =
    let ranges =
        view.Nodes |> List.collect (fun n -> n.Ranges |> List.map (fun (b, l) -> n.Domain, b, l)) |> List.sortBy (fun (_, b, _) -> b)
    let overlaps =
        ranges |> List.pairwise |> List.choose (fun ((d1, b1, l1), (d2, b2, _)) ->
            if b1 + l1 > b2 then
                Some(finding "SRAT" (String.Format("memory [0x{0:X}, 0x{1:X}) of domain {2} overlaps the range at 0x{3:X} of domain {4}", b1, (b1 + l1), d1, b2, d2)))
            else None)
    let duplicateCpus =
        view.Nodes |> List.collect (fun n -> n.ApicIds |> List.map (fun a -> a, n.Domain))
        |> List.groupBy fst |> List.filter (fun (_, uses) -> List.length uses > 1)
        |> List.map (fun (apic, uses) ->
            let domains = uses |> List.map (snd >> string) |> String.concat "; "
            finding "SRAT" (String.Format("APIC ID {0} appears {1} times (domains [{2}])", apic, (List.length uses), domains)))
    overlaps @ duplicateCpus

let private madtFindings (d: DecodedTables) (view: NumaView.NumaView) =
    match d.Madt, d.Srat with
    | Some madt, Some _ ->
        let madtIds =
            madt.Entries |> List.choose (function
                | Madt.Entry.LocalApic l when l.Flags &&& Madt.enabled <> 0u -> Some(uint32 l.ApicId)
                | Madt.Entry.LocalX2Apic x when x.Flags &&& Madt.enabled <> 0u -> Some x.X2ApicId
                | _ -> None) |> Set.ofList
        let sratIds = view.Nodes |> List.collect (fun n -> n.ApicIds) |> Set.ofList
        (Set.difference madtIds sratIds |> Set.toList |> List.map (fun a -> finding "SRAT" (String.Format("MADT enables APIC ID {0} but SRAT gives it no proximity domain", a))))
        @ (Set.difference sratIds madtIds |> Set.toList |> List.map (fun a -> finding "APIC" (String.Format("SRAT places APIC ID {0} but the MADT does not enable it", a))))
    | _ -> []

let private hmatFindings (d: DecodedTables) (view: NumaView.NumaView) =
    match d.Hmat, d.Srat with
    | Some hmat, Some _ ->
        let memoryDomains = view.Nodes |> List.filter (fun n -> n.MemoryBytes > 0UL) |> List.map (fun n -> n.Domain) |> Set.ofList
        let cpuDomains = view.Nodes |> List.filter (fun n -> not n.ApicIds.IsEmpty) |> List.map (fun n -> n.Domain) |> Set.ofList
        let needMemory what domain =
            if memoryDomains.Contains domain then None else Some(finding "HMAT" (String.Format("{0} names memory domain {1}, which has no memory in SRAT", what, domain)))
        let needCpus what domain =
            if cpuDomains.Contains domain then None else Some(finding "HMAT" (String.Format("{0} names initiator domain {1}, which has no CPUs in SRAT", what, domain)))
        hmat.Entries |> List.collect (function
            | Hmat.DomainAttributes a ->
                [ needMemory "a memory proximity domain attributes structure" a.MemoryDomain
                  if a.Flags &&& Hmat.initiatorValidFlag <> 0us then needCpus (String.Format("domain {0}'s attributes", a.MemoryDomain)) a.InitiatorDomain ]
                |> List.choose id
            | Hmat.Locality l ->
                (l.Targets |> List.choose (needMemory (String.Format("the {0} structure", l.DataType))))
                @ (l.Initiators |> List.choose (needCpus (String.Format("the {0} structure", l.DataType))))
            | Hmat.Cache c -> needMemory "a memory-side cache structure" c.MemoryDomain |> Option.toList
            | Hmat.OtherHmat _ -> [])
    | _ -> []

let private sleepFindings (d: DecodedTables) =
    match d.Dsdt with
    | Some dsdt when (Dsdt.findS5 dsdt).IsNone ->
        [ finding "DSDT" "declares no \\_S5 package with a 3-bit SLP_TYP, so the guest cannot power off through ACPI" ]
    | _ -> []

let private rootFindings (d: DecodedTables) =
    match d.Rsdp with
    | Some r when r.Revision < 2uy -> [ finding "RSDP" (String.Format("revision {0} has no XSDT pointer; expected revision 2", r.Revision)) ]
    | Some r when r.XsdtAddress = 0UL -> [ finding "RSDP" "XSDT address is 0" ]
    | _ -> []

let check (d: DecodedTables) : Finding list =
    let view = NumaView.ofTables d
    rootFindings d @ slitFindings d @ sratFindings view @ madtFindings d view @ hmatFindings d view @ sleepFindings d

let text (f: Finding) = String.Format("{0}: {1}", f.Table, f.Message)
