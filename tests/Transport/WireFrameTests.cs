using SsiHv.Core.Paging;
using SsiHv.Core.Transport;
using SsiHv.Core.Topology;
using SsiHv.Shell.Transport;
using Xunit;

namespace SsiHv.Tests.Transport;

/// <summary>The transport writes page frames itself (into pooled buffers); they must be the core codec's bytes.</summary>
public sealed class WireFrameTests
{
    static byte[] Core(ulong id, Message message) => Frame.encode(new Envelope(id, message));

    static PageBytes Page(byte[] bytes) => PageBytesModule.tryCreate(bytes).ResultValue;

    [Theory]
    [InlineData(WireFrame.FetchPage, 0x0102030405060708UL, 42UL)]
    [InlineData(WireFrame.Stored, 1UL, ulong.MaxValue)]
    public void Page_number_frames_equal_the_core_encoding(byte type, ulong id, ulong page)
    {
        var frame = new byte[WireFrame.PageNumberFrameLength];
        var length = WireFrame.WritePageNumberFrame(frame, type, id, page);
        var expected = type == WireFrame.FetchPage ? Core(id, Message.NewFetchPage(PageNumber.NewPageNumber(page))) : Core(id, Message.NewStored(PageNumber.NewPageNumber(page)));
        Assert.Equal(expected, frame[..length]);
    }

    [Theory]
    [InlineData(WireFrame.PageData, 7UL, 3UL)]
    [InlineData(WireFrame.StorePage, 65537UL, 1UL << 40)]
    public void Page_frames_equal_the_core_encoding(byte type, ulong id, ulong page)
    {
        var bytes = TransportTestSupport.Pattern(page, type);
        var frame = new byte[WireFrame.PageFrameLength];
        bytes.CopyTo(WireFrame.WritePageFrameHeader(frame, type, id, page));
        var expected = type == WireFrame.PageData
            ? Core(id, Message.NewPageData(PageNumber.NewPageNumber(page), Page(bytes)))
            : Core(id, Message.NewStorePage(PageNumber.NewPageNumber(page), Page(bytes)));
        Assert.Equal(expected, frame);
    }

    [Fact]
    public void Invalidate_and_InvalidateAck_frames_equal_the_core_encoding()
    {
        var frame = new byte[WireFrame.InvalidateFrameLength];
        Assert.Equal(frame.Length, WireFrame.WriteInvalidateFrame(frame, 0x0102030405060708UL, 1UL << 40, requester: -7));
        Assert.Equal(Core(0x0102030405060708UL, Message.NewInvalidate(PageNumber.NewPageNumber(1UL << 40), NodeId.NewNodeId(-7))), frame);
        Assert.Equal(-7, WireFrame.ReadRequester(frame));
        var ack = new byte[WireFrame.PageNumberFrameLength];
        WireFrame.WritePageNumberFrame(ack, WireFrame.InvalidateAck, 3, 99);
        Assert.Equal(Core(3, Message.NewInvalidateAck(PageNumber.NewPageNumber(99))), ack);
    }

    [Fact]
    public void Ping_and_pong_headers_equal_the_core_encoding()
    {
        var frame = new byte[WireFrame.HeaderLength];
        WireFrame.WriteHeader(frame, WireFrame.Ping, 9, 0);
        Assert.Equal(Core(9, Message.Ping), frame);
        WireFrame.WriteHeader(frame, WireFrame.Pong, 9, 0);
        Assert.Equal(Core(9, Message.Pong), frame);
    }
}
