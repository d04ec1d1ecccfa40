module SsiHv.PropertyTests.Main

open Expecto

let all =
    testList "ssihv core" [
        Topology.ValidationProperties.tests
        Memory.LayoutProperties.tests
        Acpi.TopologyTablesProperties.tests
    ]

[<EntryPoint>]
let main argv = runTestsWithCLIArgs [] argv all
