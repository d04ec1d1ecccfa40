#include "power.h"
#include "clock.h"
#include "json.h"
#include "layout.h"

#define SLP_TYP_SHIFT 10
#define SLP_EN (1u << 13)
/* The VMM may finish the current instruction and a few more before it stops the vCPU (QEMU handles
 * the shutdown request asynchronously), so only a machine still running after this is an error. */
#define POWER_OFF_GRACE_US 1000000

static bool configured;
static u16 control_port;
static u16 control_value;

void power_configure(u16 pm1a_control_port, u8 slp_typ)
{
    configured = pm1a_control_port != 0;
    control_port = pm1a_control_port;
    control_value = (u16)(((u32)slp_typ << SLP_TYP_SHIFT) | SLP_EN);
}

static __attribute__((noreturn)) void halt_from_user_mode(void)
{
    for (;;)
        __asm__ volatile("int %0" : : "i"(HALT_VECTOR));
}

void power_off(void)
{
    if (!configured) {
        probe_error("cannot power off: no PM1a control block or no \\_S5 package");
        halt_from_user_mode();
    }
    probe_line_begin("poweroff");
    json_key_u64("port", control_port);
    json_key_u64("value", control_value);
    probe_line_end();
    outw(control_port, control_value);
    clock_delay_us(POWER_OFF_GRACE_US);
    probe_error("poweroff did not stop the machine");
    halt_from_user_mode();
}

void power_off_after_crash(void)
{
    if (configured)
        outw(control_port, control_value);
    halt_forever_cpl0();
}
