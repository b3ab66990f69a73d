#!/usr/bin/env python3
# Generate the benchmark inputs, deterministically: the same bytes on
# every machine and every run (a fixed-seed generator, no time, no
# randomness from the host).
#
#   gen_inputs.py OUTDIR
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import sys


class Rng:
    """xorshift32: tiny, portable, and the same in every Python."""

    def __init__(self, seed):
        self.s = seed or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xffffffff
        s ^= s >> 17
        s ^= (s << 5) & 0xffffffff
        self.s = s
        return s

    def below(self, n):
        return self.next() % n


SYLLABLES = ("ka ri to na mi so re lu te po va de shi an el or in us ma "
             "ne ti ro sa qua ber gen lin dor wen fal mar tis ven cor").split()


def vocabulary(rng, n=6000):
    words, seen = [], set()
    while len(words) < n:
        w = "".join(SYLLABLES[rng.below(len(SYLLABLES))]
                    for _ in range(1 + rng.below(3)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def text(size, seed=1):
    """Pseudo-English: Zipf-like word choice, sentences, numbers, lines."""
    rng = Rng(seed)
    words = vocabulary(rng)
    out, line, total = [], [], 0
    capital = True
    while total < size:
        r = rng.next()
        # Zipf-ish: square a uniform number to favour low ranks.
        u = (r & 0xffff) / 65536.0
        w = words[int(u * u * u * len(words))]
        if rng.below(40) == 0:
            w = str(rng.below(100000))
        if capital:
            w = w.capitalize()
            capital = False
        if rng.below(12) == 0:
            w += "."
            capital = True
        elif rng.below(15) == 0:
            w += ","
        line.append(w)
        if sum(len(x) + 1 for x in line) > 64:
            s = " ".join(line) + "\n"
            out.append(s)
            total += len(s)
            line = []
            if rng.below(10) == 0:
                out.append("\n")
                total += 1
    return "".join(out)[:size]


def items_xml(n, seed=2):
    rng = Rng(seed)
    words = vocabulary(rng, 800)
    cats = ["tools", "books", "garden", "music", "games", "kitchen", "sports",
            "office", "toys", "travel", "health", "auto"]
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<catalog>\n']
    for i in range(n):
        name = " ".join(words[rng.below(len(words))] for _ in range(2 + rng.below(3)))
        desc = " ".join(words[rng.below(len(words))] for _ in range(8 + rng.below(20)))
        out.append('  <item id="i%05d" category="%s" price="%d.%02d" stock="%d">\n'
                   '    <name>%s</name>\n    <desc>%s</desc>\n'
                   '    <tags>%s</tags>\n  </item>\n'
                   % (i, cats[rng.below(len(cats))], 1 + rng.below(500),
                      rng.below(100), rng.below(1000), name, desc,
                      " ".join(words[rng.below(60)] for _ in range(1 + rng.below(4)))))
    out.append("</catalog>\n")
    return "".join(out)


XSL = """<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="xml" indent="yes"/>
  <xsl:key name="by-cat" match="item" use="@category"/>
  <xsl:key name="by-tag" match="item" use="substring-before(concat(tags, ' '), ' ')"/>
  <xsl:template match="/catalog">
    <report items="{count(item)}" value="{format-number(sum(item/@price), '0.00')}">
      <xsl:for-each select="item[generate-id() = generate-id(key('by-cat', @category)[1])]">
        <xsl:sort select="@category"/>
        <xsl:variable name="c" select="key('by-cat', @category)"/>
        <category name="{@category}" count="{count($c)}"
                  stock="{sum($c/@stock)}"
                  avg="{format-number(sum($c/@price) div count($c), '0.000')}">
          <xsl:for-each select="$c">
            <xsl:sort select="@price" data-type="number" order="descending"/>
            <xsl:sort select="@id"/>
            <xsl:if test="position() &lt;= 25">
              <top id="{@id}" price="{@price}">
                <xsl:value-of select="translate(normalize-space(name), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"/>
              </top>
            </xsl:if>
          </xsl:for-each>
        </category>
      </xsl:for-each>
      <tags>
        <xsl:for-each select="item[generate-id() = generate-id(key('by-tag', substring-before(concat(tags, ' '), ' '))[1])]">
          <xsl:sort select="count(key('by-tag', substring-before(concat(tags, ' '), ' ')))" data-type="number" order="descending"/>
          <xsl:sort select="tags"/>
          <tag name="{substring-before(concat(tags, ' '), ' ')}"
               n="{count(key('by-tag', substring-before(concat(tags, ' '), ' ')))}"/>
        </xsl:for-each>
      </tags>
      <long>
        <xsl:for-each select="item[string-length(desc) &gt; 150]">
          <xsl:sort select="string-length(desc)" data-type="number" order="descending"/>
          <xsl:sort select="@id"/>
          <d id="{@id}" len="{string-length(desc)}"
             words="{string-length(normalize-space(desc)) - string-length(translate(normalize-space(desc), ' ', '')) + 1}"/>
        </xsl:for-each>
      </long>
    </report>
  </xsl:template>
</xsl:stylesheet>
"""

PERL = r'''#!/usr/bin/perl
# perlbench-style: hashes, regexes, sorting and string building.
use strict;
use warnings;

my ($file, $rounds) = @ARGV;
$rounds ||= 1;
open(my $fh, '<', $file) or die "$file: $!";
my @lines = <$fh>;
close($fh);

my (%freq, %bigram, %shape);
my ($words, $sentences, $numbers) = (0, 0, 0);
for my $round (1 .. $rounds) {
    for my $line (@lines) {
        chomp(my $l = $line);
        $sentences += () = $l =~ /\./g;
        my $prev = '';
        for my $w (split /[\s,.]+/, lc $l) {
            next unless length $w;
            if ($w =~ /^\d+$/) { $numbers++; next; }
            $words++;
            $freq{$w}++;
            $bigram{"$prev $w"}++ if $prev;
            $prev = $w;
            (my $s = $w) =~ s/[aeiou]/V/g;
            $s =~ s/[^V]/C/g;
            $s =~ s/(.)\1+/$1+/g;
            $shape{$s}++;
        }
        # Rewrite and re-parse: capture groups and substitution with code.
        (my $t = $l) =~ s/\b(\w)(\w*)\b/\u$2$1ay/g;
        $numbers += () = $t =~ /(\d+)ay/g;
    }
}
my @top = (sort { $freq{$b} <=> $freq{$a} || $a cmp $b } keys %freq)[0 .. 49];
my @bi = (sort { $bigram{$b} <=> $bigram{$a} || $a cmp $b } keys %bigram)[0 .. 19];
my @sh = (sort { $shape{$b} <=> $shape{$a} || $a cmp $b } keys %shape)[0 .. 9];
printf "words %d sentences %d numbers %d distinct %d bigrams %d\n",
    $words, $sentences, $numbers, scalar(keys %freq), scalar(keys %bigram);
printf "%-12s %d\n", $_, $freq{$_} for @top;
printf "%-24s %d\n", $_, $bigram{$_} for @bi;
printf "%-12s %d\n", $_, $shape{$_} for @sh;
my $acc = '';
for my $w (@top) { $acc = join('', reverse split //, $acc . $w) ; }
printf "acc %s\n", substr($acc, 0, 60);
'''

PYTHON = r'''# python3: dicts, classes, regexes, sorting and json.
import json
import re
import sys

path, rounds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
with open(path) as f:
    text = f.read()

class Node:
    __slots__ = ("word", "count", "next")

    def __init__(self, word):
        self.word, self.count, self.next = word, 0, {}

def model(words):
    nodes = {}
    prev = None
    for w in words:
        n = nodes.get(w)
        if n is None:
            n = nodes[w] = Node(w)
        n.count += 1
        if prev is not None:
            prev.next[w] = prev.next.get(w, 0) + 1
        prev = n
    return nodes

total = {}
for r in range(rounds):
    words = re.findall(r"[a-z]+", text.lower())
    nodes = model(words)
    for n in nodes.values():
        total[n.word] = total.get(n.word, 0) + n.count
# A walk through the model: deterministic (most frequent successor).
w, walk = "the" if "the" in nodes else min(nodes), []
for i in range(2000):
    succ = nodes[w].next
    if not succ:
        break
    w = max(succ.items(), key=lambda kv: (kv[1], kv[0]))[0]
    walk.append(w)
top = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:40]
doc = {"top": top, "walk": walk[:200], "distinct": len(total),
       "lengths": sorted({len(k): 0 for k in total})}
s = json.dumps(doc, sort_keys=True)
back = json.loads(s)
assert back == json.loads(json.dumps(back))
print(len(words), len(total), len(s))
for k, v in top:
    print("%-12s %d" % (k, v))
print(" ".join(walk[:60]))
'''

SQL = r'''-- sqlite3: generated rows, indexes, joins, grouping, window functions.
PRAGMA journal_mode = OFF;
CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, region INTEGER);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, day INTEGER,
                    amount INTEGER, note TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
INSERT INTO customer SELECT i, 'cust' || ((i * 7919) % 100003), (i * 31) % 17 FROM c;
WITH RECURSIVE o(i, x) AS (SELECT 1, 12345
    UNION ALL SELECT i + 1, (x * 1103515245 + 12345) % 2147483648 FROM o WHERE i < __ROWS__)
INSERT INTO orders SELECT i, 1 + x % 20000, (x / 7) % 365, x % 10000,
    substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 20, 1 + x % 7) FROM o;
CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_day ON orders(day, amount);
SELECT region, count(*), sum(amount), avg(amount) FROM orders JOIN customer
    ON orders.customer = customer.id GROUP BY region ORDER BY region;
SELECT day, count(*), max(amount) FROM orders WHERE day BETWEEN 100 AND 120
    GROUP BY day ORDER BY day;
SELECT name, total FROM (SELECT customer, sum(amount) AS total FROM orders
    GROUP BY customer) JOIN customer ON customer.id = customer
    ORDER BY total DESC, name LIMIT 20;
SELECT note, count(*), sum(amount) FROM orders GROUP BY note
    ORDER BY count(*) DESC, note LIMIT 15;
SELECT customer, day, amount, rank FROM (SELECT customer, day, amount,
    rank() OVER (PARTITION BY customer ORDER BY amount DESC, day) AS rank
    FROM orders WHERE customer < 200) WHERE rank <= 2 ORDER BY customer, rank;
UPDATE orders SET amount = amount + 1 WHERE day % 3 = 0;
DELETE FROM orders WHERE amount < 100;
SELECT count(*), sum(amount), total(amount * day) FROM orders;
'''

# Middle-game positions for sjeng (FEN), searched to a fixed depth.
SJENG_POSITIONS = [
    "r1bq1rk1/pp2bppp/2n1pn2/3p4/2PP4/2N1PN2/PP1BBPPP/R2QK2R w KQ - 0 9",
    "r2q1rk1/1b1nbppp/pp2pn2/2pp4/3P4/1PNBPN2/PBQ2PPP/R4RK1 w - - 0 11",
    "2r2rk1/pp1qbppp/2n1pn2/3p4/3P4/P1NBPN2/1PQ2PPP/2R2RK1 b - - 3 14",
]


def sjeng_script(depth):
    out = []
    for fen in SJENG_POSITIONS:
        # st 1000: a 1000 s budget per move, so that only the depth limit
        # ends the search; sjeng's default budget (6.5 s) cut it short
        # whenever the emulator was slow, and the output changed with speed.
        out += ["send new", "send force", "send setboard " + fen,
                "send sd %d" % depth, "send st 1000", "send go", "wait Nodes:"]
    out.append("send quit")
    return "\n".join(out) + "\n"


def gtp_script(moves, size=13, level=8):
    out = ["boardsize %d" % size, "clear_board", "komi 6.5", "level %d" % level]
    for i in range(moves):
        out.append("genmove %s" % ("black" if i % 2 == 0 else "white"))
    # No final_score: its dead-stone analysis costs more than the game.
    out += ["showboard", "quit"]
    return "\n".join(out) + "\n"



# lua5.4, allocation-heavy: trees of small tables built and dropped (the
# garbage collector's work), string building and a word count, no JIT.
LUA = r'''-- lua5.4: allocation-heavy interpreter work (tables, closures, strings)
local depth, words_file = tonumber(arg[1]), arg[2]

local function make(d)
  if d == 0 then return { } end
  d = d - 1
  return { make(d), make(d) }
end

local function check(t)
  if not t[1] then return 1 end
  return 1 + check(t[1]) + check(t[2])
end

local long = make(depth)
for d = 4, depth, 2 do
  local iters, sum = 1 << (depth - d + 4), 0
  for i = 1, iters do sum = sum + check(make(d)) end
  print(string.format("trees %d depth %d check %d", iters, d, sum))
end
print("long lived check " .. check(long))

local count, order = {}, {}
for w in io.open(words_file):read("a"):gmatch("%a+") do
  w = w:lower()
  if not count[w] then count[w] = 0; order[#order + 1] = w end
  count[w] = count[w] + 1
end
table.sort(order, function(a, b)
  if count[a] ~= count[b] then return count[a] > count[b] end
  return a < b
end)
for i = 1, 20 do print(order[i], count[order[i]]) end

local parts = {}
for i = 1, 200000 do
  local f = function(x) return x * i % 9973 end
  parts[#parts + 1] = tostring(f(i))
  if #parts == 1000 then parts = { table.concat(parts, ","):sub(1, 32) } end
end
print("closures " .. parts[1])
'''

# luajit: the JIT compiles hot loops to ARM code at run time (code pages
# written, then run): numeric kernels, string hashing, table churn.
LUAJIT = r'''-- luajit: work for a JIT (traces compiled to ARM code while it runs)
local n = tonumber(arg[1])

local function mandel(size)
  local count = 0
  for y = 0, size - 1 do
    local ci = 2 * y / size - 1
    for x = 0, size - 1 do
      local cr, zr, zi, i = 2 * x / size - 1.5, 0, 0, 0
      while i < 50 and zr * zr + zi * zi < 4 do
        zr, zi = zr * zr - zi * zi + cr, 2 * zr * zi + ci
        i = i + 1
      end
      if i == 50 then count = count + 1 end
    end
  end
  return count
end

local function fannkuch(m)
  local perm, perm1, count = {}, {}, {}
  local maxflips, checksum, r, nperm = 0, 0, m, 0
  for i = 0, m - 1 do perm1[i] = i end
  while true do
    while r ~= 1 do count[r - 1] = r; r = r - 1 end
    for i = 0, m - 1 do perm[i] = perm1[i] end
    local flips, k = 0, perm[0]
    while k ~= 0 do
      local i, j = 0, k
      while i < j do perm[i], perm[j] = perm[j], perm[i]; i = i + 1; j = j - 1 end
      flips = flips + 1
      k = perm[0]
    end
    if flips > maxflips then maxflips = flips end
    checksum = checksum + (nperm % 2 == 0 and flips or -flips)
    while true do
      if r == m then return checksum, maxflips end
      local p0 = perm1[0]
      for i = 0, r - 1 do perm1[i] = perm1[i + 1] end
      perm1[r] = p0
      count[r] = count[r] - 1
      if count[r] > 0 then break end
      r = r + 1
    end
    nperm = nperm + 1
  end
end

print("mandel " .. mandel(40 * n))
print("fannkuch " .. table.concat({ fannkuch(n + 3) }, " "))
local h, t = 0, {}
for i = 1, 20000 * n do
  local s = "k" .. (i * 7919 % 100003)
  t[s] = (t[s] or 0) + i
  for c = 1, #s do h = (h * 31 + s:byte(c)) % 4294967296 end
end
local keys = 0
for _ in pairs(t) do keys = keys + 1 end
print("hash " .. h .. " keys " .. keys)
'''

def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    def put(name, data):
        with open(os.path.join(out, name), "w") as f:
            f.write(data)

    put("text6m.txt", text(6 << 20))
    put("text512k.txt", text(512 << 10, seed=3))
    put("text64k.txt", text(64 << 10, seed=4))
    put("items.xml", items_xml(8000))
    put("items-small.xml", items_xml(500, seed=5))
    put("report.xsl", XSL)
    put("bench.pl", PERL)
    put("bench.py", PYTHON)
    put("bench.lua", LUA)
    put("jit.lua", LUAJIT)
    for rows, name in ((150000, "bench.sql"), (5000, "small.sql")):
        put(name, SQL.replace("__ROWS__", str(rows)))
    put("sjeng.drive", sjeng_script(8))
    put("sjeng-small.drive", sjeng_script(4))
    put("gnugo.gtp", gtp_script(12))
    put("gnugo-small.gtp", gtp_script(2))

if __name__ == "__main__":
    main()
