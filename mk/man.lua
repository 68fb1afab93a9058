-- metersim(1) from docs/cli.md, its one source (issue 17): a pandoc filter
-- that gives the markdown a man page's shape and leaves its words alone.
--
--   # The `metersim` command      ->  NAME (the line below), SYNOPSIS (the
--                                     usage block), DESCRIPTION
--   a table whose first column    ->  OPTIONS: one .TP entry a flag
--   is "flag"
--   ## Output, ## Exit status...  ->  OUTPUT, EXIT STATUS, ... (.SH)
--   any other table               ->  .TP entries: the first column, then the
--                                     others as "Header: value"
--   [text](other.md)              ->  text (the docs are installed in
--                                     share/doc/metersim/docs)
--
-- Tables become definition lists because tbl(1) cannot fit their long cells
-- into 80 columns without warnings; .TP is how man pages list options anyway.

local NAME_LINE = "metersim \\- a digital twin of the WAGO 879-3000/3020 three-phase energy meter"

local function cell_inlines(cell)
  return pandoc.utils.blocks_to_inlines(cell)
end

local function header_text(cell)
  return pandoc.utils.stringify(cell)
end

local function table_to_list(tbl)
  local t = pandoc.utils.to_simple_table(tbl)
  local items = {}
  for _, row in ipairs(t.rows) do
    local defs = {}
    for k = 2, #row do
      local text = pandoc.utils.stringify(row[k])
      if text ~= "" then
        if k == 2 then
          for _, b in ipairs(row[k]) do
            table.insert(defs, b)
          end
        else
          local inl = { pandoc.Str(header_text(t.headers[k]) .. ":"), pandoc.Space() }
          for _, i in ipairs(cell_inlines(row[k])) do
            table.insert(inl, i)
          end
          table.insert(defs, pandoc.Para(inl))
        end
      end
    end
    if #defs == 0 then
      defs = { pandoc.Plain({}) }
    end
    table.insert(items, { cell_inlines(row[1]), { defs } })
  end
  return pandoc.DefinitionList(items), t
end

function Link(el)
  if not el.target:match("^%a+://") then
    return el.content
  end
end

function Pandoc(doc)
  -- No hyphenation, left-aligned: paths and flags stay whole.
  local out = { pandoc.RawBlock("man", ".nh\n.ad l") }
  local seen_title = false
  local after_synopsis = false
  for _, b in ipairs(doc.blocks) do
    if b.t == "Header" and b.level == 1 and not seen_title then
      seen_title = true
      table.insert(out, pandoc.Header(1, "NAME"))
      table.insert(out, pandoc.RawBlock("man", NAME_LINE))
      table.insert(out, pandoc.Header(1, "SYNOPSIS"))
    elseif b.t == "CodeBlock" and seen_title and not after_synopsis then
      after_synopsis = true
      table.insert(out, b)
      table.insert(out, pandoc.Header(1, "DESCRIPTION"))
    elseif b.t == "Header" then
      local text = pandoc.utils.stringify(b.content):upper()
      table.insert(out, pandoc.Header(b.level == 2 and 1 or 2, text))
    elseif b.t == "Table" then
      local list, t = table_to_list(b)
      if header_text(t.headers[1]) == "flag" then
        table.insert(out, pandoc.Header(1, "OPTIONS"))
      end
      table.insert(out, list)
    else
      table.insert(out, b)
    end
  end
  doc.blocks = out
  return doc
end
