module SsiHv.PropertyTests.Paging.PagingTests

open Expecto

let tests = testList "paging" [ PlacementProperties.tests; ClockProperties.tests; PagerProperties.tests; CensusProperties.tests ]
