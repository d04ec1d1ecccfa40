namespace SsiHv.Core
