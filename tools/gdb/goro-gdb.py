# goro-gdb.py - gdb commands for goro programs: list goroutines and show
# the backtrace of any of them, in a live process or a core file.
#
#   (gdb) source /path/to/share/goro/gdb/goro-gdb.py
#   (gdb) info goroutines          id, status or wait reason, top frame
#   (gdb) goroutine 7 bt           backtrace of goroutine 7
#   (gdb) goroutine all bt         every goroutine's backtrace
#
# Design: the runtime keeps every goroutine record on the list
# goro__sched.allg (linked through allnext, records never freed while the
# runtime runs), so the commands only read memory through the debug info
# of struct goro__g; nothing is called in the inferior, which is what makes
# them work on core files.  A parked goroutine's registers live on its own
# stack (src/arch/ctx.h: g->ctx.sp points at the FP control words, the
# saved rbp is at +0x30 and the return address at +0x38); its backtrace
# follows the frame-pointer chain from there, like the runtime's own dumps
# (src/backtrace.c).  A goroutine running on a thread is shown with that
# thread's own backtrace (gdb's unwinder, selected by the M's tid).
# Requires the library built with debug info (RelWithDebInfo, the
# default) and x86-64 with the assembly context switch.

import gdb

# Go's wait-reason strings, by enumerator name (src/internal.h).
_WAIT_REASONS = {
    "WR_NONE": "waiting",
    "WR_CHAN_RECV": "chan receive",
    "WR_CHAN_SEND": "chan send",
    "WR_CHAN_RECV_NIL": "chan receive (nil chan)",
    "WR_CHAN_SEND_NIL": "chan send (nil chan)",
    "WR_SELECT": "select",
    "WR_SELECT_NO_CASES": "select (no cases)",
    "WR_SLEEP": "sleep",
    "WR_IO_WAIT": "IO wait",
    "WR_MUTEX": "sync.Mutex.Lock",
    "WR_RWMUTEX_RLOCK": "sync.RWMutex.RLock",
    "WR_RWMUTEX_LOCK": "sync.RWMutex.Lock",
    "WR_WAITGROUP": "sync.WaitGroup.Wait",
    "WR_COND": "sync.Cond.Wait",
    "WR_SEMA": "semacquire",
    "WR_ONCE": "sync.Once.Do",
    "WR_TIMER": "timer",
    "WR_BLOCKING": "blocking call",
    "WR_RESOLVE": "name resolution",
    "WR_PREEMPTED": "preempted",
}
# The same order as GORO_WAITREASON_MAP, used when the enumerators are not
# in the debug info.
_WAIT_ORDER = list(_WAIT_REASONS.keys())

G_IDLE, G_RUNNABLE, G_RUNNING, G_SYSCALL, G_WAITING, G_DEAD = 0, 1, 2, 3, 4, 6
_STATUS = {G_RUNNABLE: "runnable", G_RUNNING: "running", G_SYSCALL: "syscall"}

MAX_FRAMES = 100
PAGE = 4096


def _wait_reason_table():
    table = {}
    for i, name in enumerate(_WAIT_ORDER):
        try:
            v = int(gdb.parse_and_eval(name))
        except gdb.error:
            v = i
        table[v] = _WAIT_REASONS[name]
    return table


def _sched():
    try:
        return gdb.parse_and_eval("goro__sched")
    except gdb.error:
        raise gdb.GdbError("goro__sched not found: is this a goro program with debug info?")


def _allgs():
    g = _sched()["allg"]
    seen = 0
    while int(g) != 0:
        yield g
        g = g["allnext"]
        seen += 1
        if seen > 50000000:
            break


def _live(g):
    st = int(g["status"])
    return st not in (G_IDLE, G_DEAD)


def _status(g, reasons):
    st = int(g["status"])
    if st == G_WAITING:
        return reasons.get(int(g["waitreason"]), "waiting")
    return _STATUS.get(st, "dead")


def _running_m(g):
    """The M whose curg is g, or None."""
    m = _sched()["allm"]
    while int(m) != 0:
        if int(m["curg"]) == int(g) and not bool(m["dead"]):
            return m
        m = m["alllink"]
    return None


def _stack_bounds(g):
    lo = int(g["stack_lo"])
    if lo == 0:
        return None
    size = int(g["stack_size"])
    if size == 0:
        size = int(gdb.parse_and_eval("goro__stack_default"))
    return lo + PAGE, lo + size


def _read_word(addr):
    inf = gdb.selected_inferior()
    mem = inf.read_memory(addr, 8)
    return int.from_bytes(bytes(mem), "little")


def _stack_reader(g):
    """A word reader for g's stack.  A parked shared-stack goroutine
    (src/sstack.c) has its frames in a heap copy: the shared stack holds
    another goroutine's meanwhile, so addresses are translated."""
    try:
        ss = g["ss"]
    except gdb.error:
        return _read_word
    if int(ss) == 0 or int(ss["buf"]) == 0:
        return _read_word
    top = int(g["stack_lo"]) + int(g["stack_size"])
    n = int(ss["len"])
    buf = int(ss["buf"])

    def read(addr):
        if addr < top - n or addr + 8 > top:
            raise gdb.MemoryError("outside the saved stack")
        return _read_word(buf + (addr - (top - n)))
    return read


def _saved_pcs(g):
    """Return addresses of a parked goroutine, innermost first."""
    bounds = _stack_bounds(g)
    if bounds is None:
        return []
    lo, hi = bounds
    sp = int(g["ctx"]["sp"])
    _read_word = _stack_reader(g)
    try:
        fp = _read_word(sp + 0x30)
        pc = _read_word(sp + 0x38)
    except gdb.MemoryError:
        return []
    tramp = None
    try:
        tramp = int(gdb.parse_and_eval("(unsigned long)&goro__ctx_trampoline"))
    except gdb.error:
        pass
    pcs = [pc] if pc else []
    while fp and lo <= fp < hi - 16 and len(pcs) < MAX_FRAMES:
        try:
            nxt = _read_word(fp)
            ret = _read_word(fp + 8)
        except gdb.MemoryError:
            break
        if ret == 0 or (tramp is not None and tramp <= ret < tramp + 32):
            break
        pcs.append(ret)
        if nxt <= fp:
            break
        fp = nxt
    return pcs


def _describe(pc, is_return):
    """(function name, 'file:line') for a pc."""
    look = pc - 1 if is_return else pc
    name = "??"
    block = None
    try:
        block = gdb.block_for_pc(look)
    except RuntimeError:
        block = None
    while block is not None and block.function is None:
        block = block.superblock
    if block is not None and block.function is not None:
        name = block.function.print_name
    else:
        sym = gdb.execute("info symbol 0x%x" % look, to_string=True).strip()
        if sym and not sym.startswith("No symbol"):
            name = sym.split(" in ")[0].split(" + ")[0]
    sal = gdb.find_pc_line(look)
    where = ""
    full = None
    if sal.symtab is not None:
        where = "%s:%d" % (sal.symtab.filename, sal.line)
        full = sal.symtab.fullname()
    return name, where, full


_srcdir_cache = []


def _srcdir():
    """The library's source directory, from where goro__sched is defined."""
    if not _srcdir_cache:
        d = None
        try:
            sym = gdb.lookup_global_symbol("goro__sched") or gdb.lookup_static_symbol("goro__sched")
            if sym is not None and sym.symtab is not None:
                f = sym.symtab.fullname()
                d = f[:f.rfind("/") + 1] if "/" in f else None
        except (gdb.error, AttributeError):
            d = None
        _srcdir_cache.append(d)
    return _srcdir_cache[0]


def _runtime_name(name, where, fullpath=None):
    if name.startswith("goro_"):
        return True
    d = _srcdir()
    return bool(d and fullpath and fullpath.startswith(d))


def _top_user_frame(g):
    pcs = _saved_pcs(g)
    first = None
    for pc in pcs:
        name, where, full = _describe(pc, True)
        if first is None:
            first = (name, where)
        if not _runtime_name(name, where, full):
            return name, where
    return first if first else ("?", "")


def _find_g(gid):
    for g in _allgs():
        if int(g["id"]) == gid and _live(g):
            return g
    return None


def _thread_for_tid(tid):
    for th in gdb.selected_inferior().threads():
        if th.ptid[1] == tid:
            return th
    return None


def _goroutine_bt(g, reasons):
    gid = int(g["id"])
    print("goroutine %d [%s]:" % (gid, _status(g, reasons)))
    st = int(g["status"])
    if st in (G_RUNNING, G_SYSCALL):
        m = _running_m(g)
        th = _thread_for_tid(int(m["tid"])) if m is not None else None
        if th is None:
            print("\tgoroutine running on other thread; stack unavailable")
            return
        old = gdb.selected_thread()
        th.switch()
        try:
            print("(running on thread %d, LWP %d)" % (th.num, th.ptid[1]))
            gdb.execute("bt %d" % MAX_FRAMES)
        finally:
            if old is not None:
                old.switch()
        return
    pcs = _saved_pcs(g)
    if not pcs:
        fn = int(g["fn"])
        if fn:
            name, where, _ = _describe(fn, False)
            print("#0  0x%016x in %s () at %s (not started)" % (fn, name, where))
        else:
            print("\t(no saved stack)")
        return
    for i, pc in enumerate(pcs):
        name, where, _ = _describe(pc, True)
        print("#%-2d 0x%016x in %s ()%s" % (i, pc, name, (" at " + where) if where else ""))


class InfoGoroutines(gdb.Command):
    """List goroutines: id, status or wait reason, top user frame.
A '*' marks goroutines running on a thread (the thread's LWP follows)."""

    def __init__(self):
        super(InfoGoroutines, self).__init__("info goroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        reasons = _wait_reason_table()
        rows = []
        for g in _allgs():
            if not _live(g):
                continue
            rows.append(g)
        rows.sort(key=lambda g: int(g["id"]))
        for g in rows:
            st = int(g["status"])
            gid = int(g["id"])
            if st in (G_RUNNING, G_SYSCALL):
                m = _running_m(g)
                tid = (" LWP %d" % int(m["tid"])) if m is not None else ""
                print("* %6d %-24s (on thread%s)" % (gid, _status(g, reasons), tid))
                continue
            name, where = _top_user_frame(g)
            if int(g["stack_lo"]) == 0 and int(g["fn"]):
                name, where, _ = _describe(int(g["fn"]), False)
            print("  %6d %-24s %s%s" % (gid, _status(g, reasons), name,
                                         (" at " + where) if where else ""))


class Goroutine(gdb.Command):
    """goroutine N bt | goroutine all bt: backtrace of goroutine N (or all)."""

    def __init__(self):
        super(Goroutine, self).__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) != 2 or argv[1] not in ("bt", "backtrace"):
            raise gdb.GdbError("usage: goroutine N bt | goroutine all bt")
        reasons = _wait_reason_table()
        if argv[0] == "all":
            gs = sorted((g for g in _allgs() if _live(g)), key=lambda g: int(g["id"]))
            for g in gs:
                _goroutine_bt(g, reasons)
                print("")
            return
        try:
            gid = int(argv[0])
        except ValueError:
            raise gdb.GdbError("goroutine: bad id %r" % argv[0])
        g = _find_g(gid)
        if g is None:
            raise gdb.GdbError("no live goroutine %d" % gid)
        _goroutine_bt(g, reasons)


InfoGoroutines()
Goroutine()
