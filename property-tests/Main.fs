module SsiHv.PropertyTests.Main

open Expecto

let all =
    testList "ssihv core" [
        Topology.ValidationProperties.tests
        Memory.LayoutProperties.tests
        Acpi.RsdpProperties.tests
        Acpi.XsdtProperties.tests
        Acpi.FacsProperties.tests
        Acpi.FacpProperties.tests
        Acpi.DsdtProperties.tests
        Acpi.MadtProperties.tests
        Acpi.TopologyTablesProperties.tests
        Acpi.NumaViewProperties.tests
        Acpi.TableSetProperties.tests
        Acpi.QemuReferenceTables.tests
        Boot.BootProperties.tests
        Vcpu.CpuidPolicyProperties.tests
        Devices.DeviceBusProperties.tests
        Devices.DeviceProperties.tests
        Devices.PciHostBridgeProperties.tests
        Paging.PagingTests.tests
        Transport.FrameProperties.tests
        Transport.FrameFuzz.tests
        Transport.HelloProperties.tests
        Transport.RdmaReadProperties.tests
        Text.Utf8TextProperties.tests
        Input.InputFileProperties.tests
        Input.ImagePathProperties.tests
        Vm.GuestProperties.tests
        Vm.StandaloneRunProperties.tests
        Transport.PeerLivenessProperties.tests
        Transport.AdmissionProperties.tests
        Transport.LogThrottleProperties.tests
        Transport.AcceptBackoffProperties.tests
        Cluster.NodeLimitsProperties.tests
        Cluster.NodeInfoProperties.tests
        Cluster.MembershipProperties.tests
        Cluster.RejoinProperties.tests
        Cluster.NodeConfigProperties.tests
        Cluster.ClusterTopologyProperties.tests
        Cluster.ClusterPlanProperties.tests
        Vm.VmLifecycleProperties.tests
        Lab.LabProperties.tests
    ]

[<EntryPoint>]
let main argv = runTestsWithCLIArgs [] argv all
